// loopsep synth — render synthetic bachata / hip-hop songs with stems, beats and loops.
#include <algorithm>
#include <cstdio>
#include <limits>

#include "args.h"
#include "commands.h"
#include "loopsep/synth.h"
#include "progress.h"

namespace loopsep::cli {

namespace {
CommandSpec synth_spec() {
    return {"synth",
            "--genre bachata|hiphop --songs N --seed S --out DIR [--loops] [options]",
            "Render synthetic songs with exact stems, beat/downbeat/section annotations and, with --loops,\n"
            "isolated four-beat loops per instrument. Writes DIR/<song>/mix.wav, DIR/<song>/stems/<instrument>.wav\n"
            "(bachata: bongo guira bass guitar other; hiphop: drums bass vocals other), DIR/<song>/meta.json and\n"
            "DIR/<song>/loops/{<instrument>_<nn>.wav,loops.json}. Songs are named <genre>_<seed>_<index>.\n"
            "The mix is exactly the sum of the stems (train songs: unless meta.json's production.codec records an MP3\n"
            "round trip of the mix; train songs are also mixed and mastered, and may be sped up or slowed down by up to\n"
            "6 % without --bpm: meta.json's beats, bpm and key are as heard); the same options (and package versions) give bit-identical\n"
            "files, and a song is the same whether rendered alone or in a batch (--first-index shards a set).\n"
            "Sound sources: --split train uses FluidR3_GM, the avldrums Black Pearl kit, train espeak-ng voices and\n"
            "own synths; --split val holds out TimGM6mb + sf_GMbank, the Red Zeppelin kit, other voices and other\n"
            "own-synth parameter ranges; --split realval plays every part on real recordings held out of training\n"
            "(Hydrogen kits and freepats patches; rap on val voices). meta.json names every stem's sources.",
            {
                {"--genre", true, "bachata or hiphop (required)", "GENRE"},
                {"--songs", true, "number of songs (default 1)", "N"},
                {"--seed", true, "random seed (default 1); each song index gets its own derived seed", "S"},
                {"--out", true, "output directory (required; created if missing)", "DIR"},
                {"--loops", false, "also write four-beat loops per instrument + loops.json"},
                {"--loops-per-instrument", true, "most loops per instrument and song (default 3)", "N"},
                {"--split", true, "sound-source pool: train (default), val (held-out timbres) or realval (held-out real recordings)", "POOL"},
                {"--duration-sec", true, "minimum song length in seconds, 20..600 (default 40)", "SEC"},
                {"--bpm", true, "fixed tempo 60..200 (default: random in the genre range, sometimes drifting)", "BPM"},
                {"--sample-rate", true, "output sample rate in Hz, 22050..96000 (default 44100)", "HZ"},
                {"--mono", false, "write mono files (default stereo)"},
                {"--format", true, "pcm16 (default: 16-bit WAV, mix = exact sum of the stems), flac (same, as .flac files) or float", "FMT"},
                {"--first-index", true, "index of the first song (default 0); shard a big set over processes", "I"},
                {"--soundfont-dir", true, "where the .sf2 files are (default /usr/share/sounds/sf2)", "DIR"},
                {"--samples-dir", true, "lmms-common's sample library, for the training pool's sampled drum kits (default /usr/share/lmms/samples)", "DIR"},
                {"--hydrogen-dir", true, "Hydrogen drum kits (default /usr/share/hydrogen/data/drumkits)", "DIR"},
                {"--freepats-cfg", true, "freepats patch map (default /etc/timidity/freepats.cfg)", "FILE"},
                {"--quiet", false, "no progress lines (and no progress bar on a terminal)"},
                {"--force", false, "replace song folders that already exist (each as a whole); without it an existing one is refused"},
            },
            0, 0};
}
}  // namespace

int run_synth(const Argv& argv) {
    const CommandSpec spec = synth_spec();
    const ParsedArgs args = parse_args(spec, argv);
    if (args.has("--help")) {
        std::fputs(usage_text(spec).c_str(), stdout);
        return 0;
    }
    synth::SynthParams p;
    p.genre = synth::parse_genre(args.require("--genre"));
    p.out_dir = args.require("--out");
    p.songs = int(args.get_int("--songs", 1, 1, 100000));
    p.seed = std::uint64_t(args.get_int("--seed", 1, 0, std::numeric_limits<long>::max()));
    p.loops = args.has("--loops");
    p.loops_per_instrument = int(args.get_int("--loops-per-instrument", 3, 1, 16));
    p.split = synth::parse_split(args.get("--split", "train"));
    p.duration_sec = args.get_double("--duration-sec", 40.0, 20.0, 600.0);
    p.bpm = args.get_double("--bpm", 0.0, 60.0, 200.0);
    p.sample_rate_hz = int(args.get_int("--sample-rate", 44100, 22050, 96000));
    p.mono = args.has("--mono");
    p.format = synth::parse_stem_format(args.get("--format", "pcm16"));
    p.first_index = int(args.get_int("--first-index", 0, 0, 10000000));
    p.soundfont_dir = args.get("--soundfont-dir", "/usr/share/sounds/sf2");
    p.samples_dir = args.get("--samples-dir", "/usr/share/lmms/samples");
    p.hydrogen_dir = args.get("--hydrogen-dir", "/usr/share/hydrogen/data/drumkits");
    p.freepats_cfg = args.get("--freepats-cfg", "/etc/timidity/freepats.cfg");
    p.quiet = args.has("--quiet");
    p.force = args.has("--force");
    // On a terminal: a bar over the songs, with each song's line printed above it.
    Progress bar("synth", p.quiet);
    if (bar.enabled()) {
        bar.update(0.0, "song 1/" + std::to_string(p.songs));
        p.on_song = [&](const std::string& line, int done, int total) {
            bar.clear();
            std::fprintf(stderr, "%s\n", line.c_str());
            bar.update(double(done) / total, "song " + std::to_string(std::min(done + 1, total)) + "/" + std::to_string(total));
        };
    }
    synth::render_songs(p);
    return 0;
}

}  // namespace loopsep::cli
