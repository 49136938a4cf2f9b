// libFuzzer target: audio decoding and the loop-file (acid/smpl chunk) reader on any byte string.
// read_audio and read_loop_info take a path, so the bytes go to one scratch .wav file per process
// (in /dev/shm when it exists); decode_audio reads the same bytes from memory, as the catalog does.
// Each must return or throw loopsep::Error — never crash, hang or touch memory it does not own.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/loopfile.h"

namespace {
std::string scratch_path() {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/loopsep-fuzz-loopfile-" + std::to_string(getpid()) + ".wav";
}
const std::string& scratch() {
    static const std::string path = scratch_path();
    static const bool cleanup = std::atexit([] { std::remove(scratch().c_str()); }) == 0;
    (void)cleanup;
    return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = scratch();
    if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
        if (size) std::fwrite(data, 1, size, f);
        std::fclose(f);
    } else {
        return 0;
    }
    loopsep::ReadOptions keep_rate;  // no resampling: the decoder is under test, not libsamplerate
    keep_rate.target_rate_hz = 0;
    keep_rate.max_channels = 8;
    keep_rate.allow_silent = true;
    try {
        loopsep::Audio a = loopsep::read_audio(path, keep_rate);
        (void)a.peak();
        (void)a.mono();
    } catch (const loopsep::Error&) {
    }
    try {
        loopsep::LoopInfo info = loopsep::read_loop_info(path);
        info.validate();  // whatever the chunk says, a usage error at worst
    } catch (const loopsep::Error&) {
    }
    try {
        (void)loopsep::decode_audio(data, size, "fuzz", keep_rate);
    } catch (const loopsep::Error&) {
    }
    return 0;
}
