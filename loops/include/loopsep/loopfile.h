// loopsep — DAW-ready loop files: WAV with `acid` (tempo, beats, root note,
// loop flags) and `smpl` (loop points) chunks, and library-style file names.
//
// libsndfile writes `smpl` (SFC_SET_INSTRUMENT) but has no call for `acid`, so
// the 24 bytes of `acid` are written with sf_set_chunk; libsndfile's own
// SFC_GET_LOOP_INFO reads them back (see REFERENCE.md for the layout).
#pragma once

#include <cstddef>
#include <string>

#include "loopsep/audio.h"

namespace loopsep {

struct LoopInfo {
    double tempo_bpm = 0;       // > 0 to write
    int beats = 4;              // number of beats in the file, > 0
    int root_note = -1;         // MIDI 0..127, -1 unknown
    bool loop = true;           // false: one-shot
    int meter_numerator = 4, meter_denominator = 4;
    void validate() const;      // usage error naming the field
};

// acid flags: 0x01 one-shot, 0x02 root note set, 0x04 stretch, 0x08 disk-based.
// Writes WAV only (options.format must be Wav; bits as given). The `smpl` chunk
// has one forward loop over the whole file (start 0, end frames − 1) and the root
// note (60 when unknown) as unity note. Atomic (temp + rename): on failure no file.
// Returns how many samples were above full scale and clipped (0 for float), as write_audio.
std::size_t write_loop_wav(const std::string& path, const Audio& audio, const LoopInfo& info,
                           const WriteOptions& options = {});

// Reads the tempo, beats, meter, loop mode and root note (−1 unless the acid
// root flag is set; the smpl unity note is not trusted, since writers put 60 there
// by default) back via libsndfile's SFC_GET_LOOP_INFO. Input error naming the
// file if it is missing, not audio, or has no loop info.
LoopInfo read_loop_info(const std::string& path);

// The library file name of a loop:
//   <genre>_<instrument>_<bpm>bpm_<key>_<section>_<song>_<nnnn>.wav
// Absent (empty) fields are left out with their '_'. Every field is lower case;
// inside a field, runs of characters other than [a-z0-9] become one '-' (so '_'
// only ever separates fields), trimmed at both ends; a field that comes out empty
// is absent. bpm is rounded to a whole number (> 0). key: anything parse_key reads
// is written tonic + "maj"/"min" with sharps ("amin", "c#maj", Bb minor → "a#min");
// other text is kept, sanitised ('#' allowed) so a tag given by hand still shows.
// song: see song_name_field. index (≥ 0) is zero-padded to 4 digits.
struct LoopNameFields {
    std::string genre, instrument;
    double bpm = 0;
    std::string key, section, song;
    long long index = 0;
};
std::string loop_file_name(const LoopNameFields& fields);

// The song field of a loop name from a song's path: the file's stem, or the folder's
// name when the stem is "mix" or "mixture" (`loopsep synth` and MUSDB-style folders
// name every mix so); lower case, runs of characters other than [a-z0-9] → '-',
// trimmed, at most 32 characters. "Album/01 My Song.mp3" → "01-my-song".
std::string song_name_field(const std::string& song_path);

// A harvested loop's catalog source: "<song> bar <n> @ <t> s" (n from 1, t to the
// millisecond), and back: the <song> of such a source ("" for any other source, e.g.
// a loop added by hand). export names harvested loops after their song this way.
std::string harvest_source(const std::string& song_label, int bar_number, double start_sec);
std::string song_of_source(const std::string& source);

}  // namespace loopsep
