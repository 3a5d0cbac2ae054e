"""The reaper: releases replies left unhandled past the campaign's timeout."""
