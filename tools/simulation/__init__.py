"""A realistic campaign driven over NATS only, as outside systems would drive Baton: texters who
join by invite link and text at human speed, contacts who reply (and sometimes say STOP), and an
SMS provider bridge. Used by `baton simulate`, `baton demo` and load tests."""
