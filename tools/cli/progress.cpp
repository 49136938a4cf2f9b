#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace loopsep::cli {

std::string format_duration(double seconds) {
    const long s = std::lround(std::max(0.0, seconds));
    char buf[32];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

std::string progress_line(const std::string& label, double fraction, const std::string& detail, double elapsed_sec,
                          int width) {
    fraction = std::clamp(std::isfinite(fraction) ? fraction : 0.0, 0.0, 1.0);
    const int bar_cells = 20, filled = int(std::floor(fraction * bar_cells));
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", int(std::floor(fraction * 100)));
    const std::string eta = fraction > 0 && elapsed_sec > 0
                                ? "ETA " + format_duration(elapsed_sec * (1 - fraction) / fraction)
                                : std::string("ETA --:--");
    std::string line = label + " [" + std::string(std::size_t(filled), '#') + std::string(std::size_t(bar_cells - filled), '.') +
                       "] " + pct + "  " + eta;
    // The detail goes last and is what gives way on a narrow terminal.
    if (!detail.empty()) line += "  " + detail;
    if (int(line.size()) > width) line.resize(std::size_t(std::max(0, width)));
    return line;
}

Progress::Progress(std::string label, bool quiet)
    : label_(std::move(label)), enabled_(!quiet && ::isatty(2)), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { clear(); }

void Progress::update(double fraction, const std::string& detail) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && fraction < 1.0 && now - last_draw_ < std::chrono::milliseconds(100)) return;
    winsize ws{};
    const int width = ::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col - 1 : 79;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    // \r and erase-to-end-of-line: a shorter line leaves nothing of the longer one before it.
    std::fprintf(stderr, "\r%s\x1b[K", progress_line(label_, fraction, detail, elapsed, width).c_str());
    std::fflush(stderr);
    drawn_ = true;
    last_draw_ = now;
}

void Progress::clear() {
    if (!enabled_ || !drawn_) return;
    std::fputs("\r\x1b[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
}

int ProgressClearingBuf::overflow(int c) {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    bar_.clear();
    return target_->sputc(char(c));
}

std::streamsize ProgressClearingBuf::xsputn(const char* s, std::streamsize n) {
    bar_.clear();
    return target_->sputn(s, n);
}

}  // namespace loopsep::cli
