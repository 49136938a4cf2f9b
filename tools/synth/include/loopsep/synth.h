// loopsep synth — a synthetic multitrack generator for bachata and hip-hop.
//
// Every song is composed from a seeded PRNG (pattern-based arrangement with
// sections, chord progressions, humanised timing/velocity and optional tempo
// drift), rendered per stem from General MIDI soundfonts (FluidSynth), recorded
// drum kits (avldrums), kits of one-shot samples (lmms-common; training pool),
// our own DSP instruments and espeak-ng rap vocals, then
// given per-stem gain/pan/EQ/reverb. Train songs then go through a production
// stage (src/production.h: channel strips, bus compression and limiting, a
// speed change of ±6 %, sometimes an MP3 round trip of the mixture), recorded
// in meta.json "production". The mix is exactly the sum of the stems, unless
// meta.json records the MP3 round trip (production.mix_is_sum_of_stems false).
//
// Output of render_songs() for a song named NAME:
//   OUT/NAME/mix.wav, OUT/NAME/stems/<instrument>.wav, OUT/NAME/meta.json and,
//   with `loops`, OUT/NAME/loops/<instrument>_<nn>.wav + OUT/NAME/loops/loops.json
//   (.flac instead of .wav with StemFormat::Flac).
// Same parameters → bit-identical files (no clocks, no threads, own PRNG and
// own distributions).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace loopsep::synth {

enum class Genre { Bachata, HipHop };
// Which pool of sound sources (soundfont presets, kits, own-synth variants,
// voices) is used: `train` for training data, `val` is held out so a model can
// be validated on timbres it never heard. `realval` plays every part on real
// recordings (Hydrogen kits, freepats patches) held out of training, rap on
// val espeak-ng voices (no open recordings of rap exist): a check on real
// timbres that no synthetic source stands in for.
enum class SourceSplit { Train, Val, RealVal };
// Pcm16: 16-bit WAV, the mix the integer sum of the stems (exact when read back);
// Flac: the same samples in FLAC files (*.flac, lossless, ~half the size);
// Float32: 32-bit float WAV.
enum class StemFormat { Pcm16, Flac, Float32 };

Genre parse_genre(const std::string& name);          // "bachata" | "hiphop"; usage error otherwise
SourceSplit parse_split(const std::string& name);    // "train" | "val" | "realval"
StemFormat parse_stem_format(const std::string& name);  // "pcm16" | "flac" | "float"
std::string genre_name(Genre genre);
std::string split_name(SourceSplit split);

// The stems each genre writes, in a fixed order.
std::vector<std::string> genre_instruments(Genre genre);

struct SynthParams {
    Genre genre = Genre::Bachata;
    int songs = 1;                  // how many songs
    int first_index = 0;            // song indices first_index .. first_index+songs-1 (sharding)
    std::uint64_t seed = 1;
    std::string out_dir;
    bool loops = false;             // also write four-beat loops per instrument
    int loops_per_instrument = 3;   // at most this many loops per instrument and song
    SourceSplit split = SourceSplit::Train;
    double duration_sec = 40.0;     // at least this long (whole bars, plus the release tail)
    double bpm = 0.0;               // 0: random in the genre's range; otherwise fixed (no drift)
    int sample_rate_hz = 44100;
    bool mono = false;              // stereo unless set
    StemFormat format = StemFormat::Pcm16;
    std::string soundfont_dir = "/usr/share/sounds/sf2";
    std::string samples_dir = "/usr/share/lmms/samples";  // one-shot drum samples (lmms-common), train pool
    std::string hydrogen_dir = "/usr/share/hydrogen/data/drumkits";  // Hydrogen kits (train and realval pools)
    std::string freepats_cfg = "/etc/timidity/freepats.cfg";        // freepats patches (train and realval pools)
    bool quiet = false;             // no progress lines on stderr
    // A song folder that already exists is refused unless set; then it is replaced as a whole (see
    // render_songs). Other content of out_dir is never touched.
    bool force = false;
    // Called after each song with its one-line summary instead of printing it (not even when quiet):
    // lets a caller keep a progress bar and the lines apart.
    std::function<void(const std::string& line, int songs_done, int songs_total)> on_song;

    // Throws usage_error naming the bad parameter.
    void validate() const;
};

// Name of song `index` ("bachata_<seed>_<index:04>"), a directory under out_dir.
std::string song_name(const SynthParams& params, int index);

// Renders params.songs songs and writes them. Throws loopsep::Error on bad
// parameters or unusable sound sources (e.g. a missing soundfont). Before rendering anything: an
// input error naming the first song folder that exists (without `force`) or that is not a folder
// (never replaced). With `force` an existing song folder is removed just before its song is
// written, so no file of an older render (its loops, stems of another format) stays beside the new.
void render_songs(const SynthParams& params);

}  // namespace loopsep::synth
