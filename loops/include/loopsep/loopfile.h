// loopsep — DAW-ready loop files: WAV with `acid` (tempo, beats, root note,
// loop flags) and `smpl` (loop points) chunks, and Splice-style file names.
//
// libsndfile writes `smpl` (SFC_SET_INSTRUMENT) but has no call for `acid`, so
// the 24 bytes of `acid` are written with sf_set_chunk; libsndfile's own
// SFC_GET_LOOP_INFO reads them back (see REFERENCE.md for the layout).
#pragma once

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
void write_loop_wav(const std::string& path, const Audio& audio, const LoopInfo& info,
                    const WriteOptions& options = {});

// Reads the tempo, beats, meter, loop mode and root note (−1 unless the acid
// root flag is set; the smpl unity note is not trusted, since writers put 60 there
// by default) back via libsndfile's SFC_GET_LOOP_INFO. Input error naming the
// file if it is missing, not audio, or has no loop info.
LoopInfo read_loop_info(const std::string& path);

// "<genre>_<instrument>_<bpm>bpm_<section>_<nnnn>.wav" — lower case, only
// [a-z0-9_#]: other characters become '_', runs of '_' collapse, empty parts
// become "x". bpm is rounded to a whole number; index is zero-padded to 4 digits.
std::string loop_file_name(const std::string& genre, const std::string& instrument, double bpm,
                           const std::string& section, int index);

}  // namespace loopsep
