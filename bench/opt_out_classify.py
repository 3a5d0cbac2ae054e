"""What reading look-alikes (issue #30) costs the opt-out classifier, per contact's message.

Every reply inbound takes goes through `classify` (services/inbound/opt_out.py); one that reads
as no opt-out is now read a second time with look-alikes folded (services/inbound/lookalikes.py).
Measured in one process, in alternating rounds so neither side always runs on a warmer machine:
the reading without the fold (`_classify`, the previous release's) and with it (`classify`),
over the same mix of replies (ordinary English and Spanish replies, Unicode text, long replies,
a few STOPs and look-alikes). Per message, in µs, and the ratio of the two.

    python -m bench.opt_out_classify --rounds 7 --repeat 200
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from bench.support import write_results
from services.inbound import opt_out

REPLIES = [
    "Yes, count me in!", "who is this?", "I already voted", "Can I get a yard sign?",
    "stop by the office later?", "No thanks", "Sí, para mañana está bien", "¿Quién es?",
    "I can't make it Saturday but Sunday works, what time do you need people?",
    "Hi Sam! Thanks for reaching out. I'm planning to vote early at the library on Main St.",
    "日本語で大丈夫ですか", "Привет, кто это?", "\U0001f44d", "ok", "Maybe",
    "STOP", "Stop texting me", "ST0P", "\u0455\u0442\u043e\u0440", "unsubscribe",
    "My number is 415 555 0101, call me after 5", "1st floor, room 305, at 10:30",
]  # fmt: skip


def _per_message(read: Callable[[str], object], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for reply in REPLIES:
            read(reply)
    return (time.perf_counter() - start) / (repeat * len(REPLIES)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    for reply in REPLIES:  # warm the caches both readings use
        opt_out.classify(reply)
    without, with_fold = [], []
    for _ in range(args.rounds):
        without.append(_per_message(opt_out._classify, args.repeat))
        with_fold.append(_per_message(opt_out.classify, args.repeat))
    before, after = statistics.median(without), statistics.median(with_fold)
    figures = {
        "messages_per_round": args.repeat * len(REPLIES),
        "rounds": args.rounds,
        "without_fold_us_per_message": round(before, 2),
        "with_fold_us_per_message": round(after, 2),
        "ratio_with_to_without": round(after / before, 2),
    }
    for name, value in figures.items():
        print(f"{name}: {value}")
    print(f"written to {write_results('opt_out_classify', figures)}")


if __name__ == "__main__":
    main()
