#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_loopfile (tests/loops/fuzz/corpus): tiny WAVs, a few hundred bytes
each, with the acid (24 bytes: flags, root note, 2 unknowns, beats, meter denominator/numerator, tempo)
and smpl (36-byte header + one 24-byte loop) chunks loopsep writes (loops/src/loopfile.cpp), and a few
near misses. Run once; the output is committed."""
import math, os, struct, sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(out, exist_ok=True)

def chunk(tag, body):
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")

def fmt(channels, rate, bits, float_=False):
    block = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", 3 if float_ else 1, channels, rate, rate * block, block, bits))

def pcm16(frames, channels):
    return b"".join(struct.pack("<h", int(8000 * math.sin(0.3 * i))) for i in range(frames) for _ in range(channels))

def acid(flags=0x02 | 0x04, root=57, beats=4, den=4, num=4, bpm=120.0):
    return chunk(b"acid", struct.pack("<IHHfIHHf", flags, root, 0x8000, 0.0, beats, den, num, bpm))

def smpl(frames, note=57, rate=44100):
    head = struct.pack("<9I", 0, 0, 1000000000 // rate, note, 0, 0, 0, 1, 0)
    return chunk(b"smpl", head + struct.pack("<6I", 0, 0, 0, frames - 1, 0, 0))

def riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body

def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

n = 64
write("loop_acid_smpl.wav", riff(fmt(1, 44100, 16), acid(), smpl(n), chunk(b"data", pcm16(n, 1))))
write("stereo_acid_oneshot.wav", riff(fmt(2, 22050, 16), acid(flags=0x01, root=0, beats=1, bpm=97.5),
                                      chunk(b"data", pcm16(n, 2))))
floats = b"".join(struct.pack("<f", 0.25 * math.sin(0.2 * i)) for i in range(n))
write("float_smpl_only.wav", riff(fmt(1, 48000, 32, float_=True), smpl(n, rate=48000), chunk(b"data", floats)))
write("acid_short_chunk.wav", riff(fmt(1, 44100, 16), chunk(b"acid", acid()[8:20]), chunk(b"data", pcm16(n, 1))))
write("acid_odd_meter.wav", riff(fmt(1, 8000, 16), acid(beats=7, den=8, num=7, bpm=999.0), smpl(n, rate=8000),
                                  chunk(b"data", pcm16(n, 1))))
