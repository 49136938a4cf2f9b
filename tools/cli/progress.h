// A one-line progress bar with an ETA on stderr, for the long commands (separate, synth, harvest,
// catalog import, train). Drawn only when stderr is a terminal and the command was not given
// --quiet: a log file or a pipe gets none of it, and stdout never does.
#pragma once

#include <chrono>
#include <ostream>
#include <streambuf>
#include <string>

namespace loopsep::cli {

// "0:42", "12:05", "1:02:03".
std::string format_duration(double seconds);

// The bar's text (no carriage return), at most `width` columns:
// "separate [##########..........]  50%  song 1/2, segment 8/16  ETA 0:04". The ETA assumes the rest
// goes at the pace so far; "ETA --:--" until there is a pace.
std::string progress_line(const std::string& label, double fraction, const std::string& detail, double elapsed_sec,
                          int width = 80);

class Progress {
public:
    Progress(std::string label, bool quiet);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    bool enabled() const { return enabled_; }
    // fraction: of the whole command's work, 0..1. Redrawn at most ten times a second (and at 100 %).
    void update(double fraction, const std::string& detail);
    // Erases the bar: call before printing anything else to the terminal; the next update redraws it.
    void clear();

private:
    std::string label_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

// A stream that clears the bar before each write, for logs printed while a bar is up (train's
// step lines): std::ostream log(&buf) with ProgressClearingBuf buf(bar, std::cerr.rdbuf()).
class ProgressClearingBuf : public std::streambuf {
public:
    ProgressClearingBuf(Progress& bar, std::streambuf* target) : bar_(bar), target_(target) {}

protected:
    int overflow(int c) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int sync() override { return target_->pubsync(); }

private:
    Progress& bar_;
    std::streambuf* target_;
};

}  // namespace loopsep::cli
