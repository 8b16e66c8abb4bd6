"""Session recording: a lossless append-only event log plus the seed's ShareGPT session file."""
