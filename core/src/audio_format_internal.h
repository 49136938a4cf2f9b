// How each output format is set up in libsndfile: shared by the writers in audio.cpp.
#pragma once

#include <sndfile.h>

#include <string>

#include "loopsep/audio.h"

namespace loopsep {

// SF_FORMAT_* major | subtype for the options (usage error for FLAC with --bits f32).
int sf_format_for(const WriteOptions& options);

// After sf_open, before the first frame: clipping for PCM; the bitrate (and mode) for the lossy codecs.
// `source_rate_hz` is the rate of the audio given (Opus records it; MP3's bitrate range depends on the
// rate the file holds). Throws input_error naming `what` if the encoder refuses a setting.
void configure_encoder(SNDFILE* sf, const WriteOptions& options, int channels, int source_rate_hz,
                       const std::string& what);

}  // namespace loopsep
