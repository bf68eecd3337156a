"""`warmline serve`'s phone-line flags (see server/config.py for what each setting does)."""
from __future__ import annotations

import argparse

FLAGS = (
    ("--audiosocket-port", dict(type=int, help="listen for Asterisk AudioSocket calls on this TCP port (0: a free one)")),
    ("--audiosocket-host", dict(help="address for the AudioSocket listener (default: --host)")),
    ("--public-url", dict(help="https://host[:port] as Twilio reaches this server (the TwiML's stream URL, signatures)")),
    ("--twilio-account-sid", dict(help="Twilio account SID, for transferring calls")),
    ("--twilio-auth-token", dict(help="Twilio auth token: checks X-Twilio-Signature; with the SID, transfers calls "
                                      "(better set WARMLINE_TWILIO_AUTH_TOKEN)")),
    ("--twilio-api-base", dict(help="Twilio REST API base URL (default https://api.twilio.com)")),
    ("--handover-number", dict(help="transfer Twilio calls to this number on escalation or when the caller presses 0")),
    ("--audiosocket-handover", dict(action="store_true", default=None,
                                    help="on escalation or 0, end AudioSocket calls after the handover line so the "
                                    "dialplan goes on to a person")),
    ("--handover-webhook", dict(help="POST JSON to this URL on every escalation and request for a human")),
    ("--handover-line", dict(help="what the agent says before a transfer")),
    ("--ami", dict(help="host:port of an Asterisk manager: a UserEvent WarmlineHandover on AudioSocket handovers")),
    ("--ami-username", dict(help="AMI user")),
    ("--ami-secret", dict(help="AMI secret (better set WARMLINE_AMI_SECRET)")),
    ("--call-records", dict(help="keep a record of each call (times, duration, escalations) in this folder; off by default")),
    ("--call-recording", dict(action="store_true", default=None,
                              help="with --call-records, also keep the caller's audio (off by default)")),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("phone lines (Twilio Media Streams, Asterisk AudioSocket)")
    for flag, kwargs in FLAGS:
        group.add_argument(flag, **kwargs)


def apply(config, args: argparse.Namespace) -> None:
    """Flags given on the command line override the environment."""
    for flag, _ in FLAGS:
        key = flag.lstrip("-").replace("-", "_")
        if getattr(args, key, None) is not None:
            setattr(config, key, getattr(args, key))
