"""Telephony: phone calls reach a `Session` through Twilio Media Streams (a WebSocket on the main server) or
Asterisk AudioSocket (a TCP listener of its own).

- `codecs.py`: G.711 mu-law and the 8 kHz <-> 16 kHz conversions of a phone line;
- `line.py`: what a call needs from a transport (play, clear, what was heard, hang up);
- `twilio.py`: the Media Streams protocol, the TwiML answer, request signatures;
- `audiosocket.py`: the AudioSocket framing and a paced writer;
- `call.py`: one call: a `Session` fed with the caller's audio, its events turned into the phone's;
- `handover.py`: bringing in a human (Twilio REST transfer, the Asterisk dialplan, an AMI event, a webhook);
- `records.py`: per-call records (off by default);
- `gateway.py`: the glue the server uses (HTTP routes, the AudioSocket listener);
- `options.py`: `warmline serve`'s phone-line flags.
"""
