#include "report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/metrics.h"
#include "loopsep/stft.h"
#include "report/png.h"

namespace loopsep::report {

namespace fs = std::filesystem;

namespace {

std::string resolve(const std::string& base_dir, const std::string& path) {
    return fs::path(path).is_absolute() ? path : (fs::path(base_dir) / path).lexically_normal().string();
}

// A path given relative stays relative (now to `dir`, so the folder can move with its songs); one
// given absolute stays absolute.
std::string relative_path(const std::string& path, const std::string& dir) {
    if (fs::path(path).is_absolute()) return path;
    return fs::absolute(path).lexically_normal().lexically_relative(fs::absolute(dir).lexically_normal()).string();
}

Audio read_any(const std::string& path) {
    ReadOptions ro;
    ro.target_rate_hz = 0;    // the file's own rate: stems come at the song's
    ro.allow_silent = true;   // a silent stem is a result to show, not an error
    return read_audio(path, ro);
}

std::vector<float> mono(const Audio& a) {
    std::vector<float> m(a.frames(), 0.0f);
    for (const auto& ch : a.channels)
        for (std::size_t i = 0; i < m.size(); ++i) m[i] += ch[i] / float(a.num_channels());
    return m;
}

// A perceptually ordered dark-to-light ramp (close to matplotlib's "magma"): loud is light.
Rgb colour(double t) {
    static const double anchors[][3] = {{0, 0, 4}, {80, 18, 123}, {182, 54, 121}, {251, 136, 97}, {252, 253, 191}};
    t = std::clamp(t, 0.0, 1.0) * 4.0;
    const int i = std::min(3, int(t));
    const double f = t - i;
    auto mix = [&](int c) { return std::uint8_t(std::lround(anchors[i][c] + f * (anchors[i + 1][c] - anchors[i][c]))); };
    return {mix(0), mix(1), mix(2)};
}

}  // namespace

// Quantised to kSpectrogramLevels steps, so an image has at most that many colours (a palette PNG).
Rgb spectrogram_colour(double db) {
    const double t = std::clamp((db - kSpectrogramFloorDb) / (kSpectrogramTopDb - kSpectrogramFloorDb), 0.0, 1.0);
    return colour(std::round(t * (kSpectrogramLevels - 1)) / (kSpectrogramLevels - 1));
}

static double top_hz(int rate_hz) { return std::min(kSpectrogramMaxHz, rate_hz / 2.0); }

int spectrogram_row(double hz, int rate_hz) {
    const double band = std::log(hz / kSpectrogramMinHz) / std::log(top_hz(rate_hz) / kSpectrogramMinHz) * kSpectrogramHeight;
    return kSpectrogramHeight - 1 - std::clamp(int(std::floor(band)), 0, kSpectrogramHeight - 1);
}

// One fixed dB scale, so images of one page (and of different runs) compare directly.
Image spectrogram_image(const std::vector<float>& samples, int rate_hz) {
    StftParams sp;
    sp.n_fft = 2048;
    Stft stft(sp);
    std::vector<long> centers(kImageWidth);
    for (int x = 0; x < kImageWidth; ++x) centers[x] = long((x + 0.5) * double(samples.size()) / kImageWidth);
    const Spectrogram spec = stft.forward_at(samples.data(), samples.size(), centers);
    const double bin_hz = double(rate_hz) / sp.n_fft, f_min = kSpectrogramMinHz, f_max = top_hz(rate_hz);
    const double full_scale = sp.n_fft / 4.0;  // |X| of a full-scale sine under the Hann window
    Image img(kImageWidth, kSpectrogramHeight);
    for (int y = 0; y < kSpectrogramHeight; ++y) {
        const int band = kSpectrogramHeight - 1 - y;  // row 0 is the top: high frequencies
        const double lo = f_min * std::pow(f_max / f_min, double(band) / kSpectrogramHeight);
        const double hi = f_min * std::pow(f_max / f_min, double(band + 1) / kSpectrogramHeight);
        const int k_lo = std::clamp(int(std::floor(lo / bin_hz)), 0, sp.num_bins() - 1);
        const int k_hi = std::clamp(int(std::ceil(hi / bin_hz)), k_lo, sp.num_bins() - 1);
        for (int x = 0; x < kImageWidth; ++x) {
            double power = 0;
            for (int k = k_lo; k <= k_hi; ++k) power = std::max(power, double(std::norm(spec.at(std::size_t(x), k))));
            const double db = 10 * std::log10(power / (full_scale * full_scale) + 1e-20);
            img.set(x, y, spectrogram_colour(db));
        }
    }
    return img;
}

namespace {

std::string num(double v, const char* format) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

// The waveform (min/max per column) over the beat grid, as inline SVG on the spectrograms' time axis
// (one unit per image column): beats light grey, downbeats darker, the starts of the four-beat
// segments the model separated as orange ticks along the top, and the detected sections (stretches
// of one downbeat phase, beat/beat.h downbeat_sections) as labelled bands along the bottom, a new
// one marked by a green line across. Vector paths: a few kB where a PNG took tens.
std::string timeline_svg(const std::vector<float>& samples, int rate_hz, const nlohmann::json& grid) {
    const int w = kImageWidth, h = kTimelineHeight;
    const double seconds = double(samples.size()) / rate_hz;
    auto column = [&](double t_sec) { return std::clamp(int(std::floor(t_sec / seconds * w)), 0, w - 1); };
    // Vertical one-pixel lines at `times`, from y0 down for `height` units.
    auto lines = [&](const std::vector<double>& times, int y0, int height) {
        std::string d;
        for (double t : times) d += "M" + std::to_string(column(t)) + ".5 " + std::to_string(y0) + "v" + std::to_string(height);
        return d;
    };
    std::ostringstream svg;
    svg << "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
        << "\" viewBox=\"0 0 " << w << " " << h << "\" shape-rendering=\"crispEdges\" font-family=\"sans-serif\" font-size=\"10\">"
        << "<title>waveform and beat grid</title><rect width=\"" << w << "\" height=\"" << h << "\" fill=\"#fafafa\"/>";
    if (!(seconds > 0)) return svg.str() + "</svg>";
    const int band_y = h - 13;  // the sections' band: the bottom 13 units
    svg << "<path stroke=\"#d7d7d7\" d=\"" << lines(grid.value("beats_sec", std::vector<double>{}), 0, band_y) << "\"/>"
        << "<path stroke=\"#8c8c8c\" d=\"" << lines(grid.value("downbeats_sec", std::vector<double>{}), 0, band_y) << "\"/>";
    // The waveform: one vertical run per column from its maximum to its minimum (at least a pixel),
    // in relative moves so each column costs a few characters.
    float peak = 1e-9f;
    for (float v : samples) peak = std::max(peak, std::abs(v));
    const int mid = 12 + (band_y - 14) / 2, half = (band_y - 14) / 2;
    std::string d;
    int pen_y = 0;
    for (int x = 0; x < w; ++x) {
        const std::size_t a = std::size_t(double(x) / w * samples.size());
        const std::size_t b = std::max(a + 1, std::size_t(double(x + 1) / w * samples.size()));
        float lo = 0, hi = 0;
        for (std::size_t i = a; i < std::min(b, samples.size()); ++i) {
            lo = std::min(lo, samples[i]);
            hi = std::max(hi, samples[i]);
        }
        const int top = mid - int(hi / peak * half), run = mid - int(lo / peak * half) - top + 1;
        d += x == 0 ? "M0.5 " + std::to_string(top) : "m1 " + std::to_string(top - pen_y);
        d += "v" + std::to_string(run);
        pen_y = top + run;
    }
    svg << "<path stroke=\"#28468c\" d=\"" << d << "\"/>"
        << "<path stroke=\"#e67800\" d=\"" << lines(grid.value("segment_starts_sec", std::vector<double>{}), 0, 10) << "\"/>";
    const auto sections = grid.value("downbeat_sections", nlohmann::json::array());
    for (std::size_t i = 0; i < sections.size(); ++i) {
        const auto& sec = sections[i];
        const double start = sec.value("start_sec", 0.0), end = sec.value("end_sec", start);
        const long bars = sec.value("bars", 0L);
        const int x0 = column(start), x1 = std::max(x0 + 1, column(end));
        svg << "<g class=\"section\" data-start-sec=\"" << num(start, "%.3f") << "\" data-end-sec=\"" << num(end, "%.3f")
            << "\" data-bars=\"" << bars << "\"><title>section " << i + 1 << ": " << num(start, "%.2f") << "–" << num(end, "%.2f")
            << " s, " << bars << " bar" << (bars == 1 ? "" : "s") << ", downbeat phase " << sec.value("phase", 0)
            << "</title><rect x=\"" << x0 << "\" y=\"" << band_y << "\" width=\"" << x1 - x0 << "\" height=\"13\" fill=\""
            << (i % 2 ? "#f3dcc0" : "#cfe0f0") << "\"/>";
        if (i > 0) svg << "<path stroke=\"#2a8a4a\" stroke-width=\"2\" d=\"M" << x0 << " 0v" << h << "\"/>";
        // The label where it fits (about 6 units a character).
        const std::string label = "§" + std::to_string(i + 1) + " · " + std::to_string(bars) + " bar" + (bars == 1 ? "" : "s");
        if (x1 - x0 > int(label.size()) * 6)
            svg << "<text x=\"" << x0 + 3 << "\" y=\"" << h - 3 << "\" fill=\"#333\">" << label << "</text>";
        svg << "</g>";
    }
    return svg.str() + "</svg>";
}

Image legend_image() {
    Image img(256, 14);
    for (int x = 0; x < 256; ++x)
        for (int y = 0; y < 14; ++y)
            img.set(x, y, spectrogram_colour(kSpectrogramFloorDb + x / 255.0 * (kSpectrogramTopDb - kSpectrogramFloorDb)));
    return img;
}

std::string base64(const std::vector<unsigned char>& bytes) {
    static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const unsigned v = unsigned(bytes[i]) << 16 | (i + 1 < bytes.size() ? unsigned(bytes[i + 1]) << 8 : 0u) |
                           (i + 2 < bytes.size() ? unsigned(bytes[i + 2]) : 0u);
        out += digits[(v >> 18) & 63];
        out += digits[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? digits[(v >> 6) & 63] : '=';
        out += i + 2 < bytes.size() ? digits[v & 63] : '=';
    }
    return out;
}

// Images travel inside the page (data: URIs): report.html is one file to mail or archive.
std::string img_tag(const Image& img, const std::string& css_class, const std::string& alt) {
    return "<img class=\"" + css_class + "\" width=\"" + std::to_string(img.width) + "\" height=\"" +
           std::to_string(img.height) + "\" alt=\"" + alt + "\" src=\"data:image/png;base64," + base64(encode_png(img)) +
           "\">";
}

std::string esc(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

// A relative file path as a URL path: every byte but the unreserved ones and '/' percent-encoded.
std::string url_path(const std::string& path) {
    std::string out;
    char buf[4];
    for (unsigned char c : path) {
        if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
            out += char(c);
        } else {
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

std::string format_seconds(double t) {
    char buf[32];
    const long s = std::lround(t);
    if (s >= 60)
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld s", s);
    return buf;
}

std::string describe_query(const nlohmann::json& q) {
    const std::string kind = q.value("kind", "");
    if (kind == "file") return "loop file " + q.value("path", std::string("?"));
    std::string s = kind == "catalog" ? "catalog loop" : "prototype of catalog loops";
    for (const auto& l : q.value("loops", nlohmann::json::array()))
        s += " #" + std::to_string(l.value("id", 0L)) + " (" + l.value("name", std::string("")) + ")";
    return s;
}

struct Track {
    std::string label, path;
    const nlohmann::json* target = nullptr;  // null for the mixture and the residual
    double level_dbfs = 0, share = 1;
    bool has_share = false;
};

std::string track_html(const Track& t, const std::string& base_dir, std::string& problems) {
    std::ostringstream h;
    h << "<div class=\"track\"><div class=\"head\"><b>" << esc(t.label) << "</b> <span class=\"lvl\">"
      << num(t.level_dbfs, "%.1f dBFS") << "</span>";
    if (t.has_share) h << " <span class=\"share\">" << num(100 * t.share, "%.1f %%") << " of the mixture's energy</span>";
    if (t.target) {
        h << " <span class=\"query\">query: " << esc(describe_query(t.target->value("query", nlohmann::json::object())))
          << "</span>";
        if (t.target->contains("reference")) {
            const auto& ref = (*t.target)["reference"];
            h << " <span class=\"sdr\">SDR " << num(ref.value("sdr_db", 0.0), "%.2f dB") << " (mixture as estimate "
              << num(ref.value("mixture_sdr_db", 0.0), "%.2f dB") << ", SI-SDR " << num(ref.value("si_sdr_db", 0.0), "%.2f dB")
              << ")</span>";
        }
    }
    h << "<br><audio controls preload=\"none\" src=\"" << esc(url_path(t.path)) << "\"></audio> <code>" << esc(t.path)
      << "</code></div>";
    if (t.target)
        for (const auto& w : t.target->value("warnings", nlohmann::json::array()))
            h << "<div class=\"warn\">&#9888; " << esc(w.get<std::string>()) << "</div>";
    try {
        const Audio a = read_any(resolve(base_dir, t.path));
        h << img_tag(spectrogram_image(mono(a), a.sample_rate_hz), "spec", "spectrogram of " + esc(t.label));
    } catch (const Error& e) {
        h << "<div class=\"warn\">cannot draw: " << esc(e.what()) << "</div>";
        problems += std::string(e.what()) + "\n";
    }
    h << "</div>\n";
    return h.str();
}

// Seconds marked under the timeline, on the images' time axis: a round step giving at most 12 marks.
std::string time_axis_html(double seconds) {
    if (!(seconds > 0)) return "";
    double step = 1;
    for (double s : {1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0}) {
        step = s;
        if (seconds / s <= 12) break;
    }
    std::ostringstream h;
    h << "<div class=\"axis\" style=\"width:" << kImageWidth << "px\">";
    for (double t = 0; t <= seconds; t += step)
        h << "<span style=\"left:" << int(t / seconds * kImageWidth) << "px\">" << format_seconds(t) << "</span>";
    h << "</div>";
    return h.str();
}

std::string song_html(const nlohmann::json& song, const std::string& base_dir, std::string& problems) {
    std::ostringstream h;
    const std::string input = song.value("input", std::string("?"));
    h << "<section class=\"song\"><h2>" << esc(fs::path(input).filename().string()) << "</h2>\n<p>"
      << num(song.value("seconds", 0.0), "%.1f s") << ", " << num(song.value("tempo_bpm", 0.0), "%.1f bpm") << ", "
      << song.value("segments", 0) << " segments";
    const auto& grid = song.value("grid", nlohmann::json::object());
    if (grid.value("beatless", false)) h << " (no beat found: fixed grid)";
    h << ", " << grid.value("beats_sec", nlohmann::json::array()).size() << " beats, "
      << grid.value("downbeats_sec", nlohmann::json::array()).size() << " downbeats";
    if (grid.contains("downbeat_sections")) {
        const std::size_t n = grid["downbeat_sections"].size();
        h << ", " << n << (n == 1 ? " section" : " sections");
    }
    h << "</p>\n";
    // Which true stems scored this song (--reference-dir), or that none were found.
    if (song.contains("reference_stems")) {
        const auto& rs = song["reference_stems"];
        if (rs.value("dir", nlohmann::json()).is_string())
            h << "<p class=\"key ref\">true stems: <code>" << esc(rs["dir"].get<std::string>()) << "</code></p>\n";
        else {
            std::string searched;
            for (const auto& f : rs.value("searched", nlohmann::json::array()))
                searched += (searched.empty() ? "" : ", ") + f.get<std::string>();
            h << "<div class=\"warn ref\">no true stems found for this song (looked in " << esc(searched) << "): no SDR</div>\n";
        }
    }
    const auto& st = song.value("timings", nlohmann::json::object());
    h << "<p class=\"timings\">setup " << num(st.value("setup_sec", 0.0), "%.2f s");
    const nlohmann::json stages = st.value("stage_sec", nlohmann::json::object());  // named: items() refers to it
    for (const auto& [stage, sec] : stages.items())
        h << ", " << esc(stage) << " " << num(sec.get<double>(), "%.2f s");
    h << "</p>\n";
    try {
        const Audio mix = read_any(resolve(base_dir, input));
        h << "<div class=\"tl\">" << timeline_svg(mono(mix), mix.sample_rate_hz, grid) << time_axis_html(mix.duration_sec())
          << "<div class=\"key\">waveform; grey: beats, dark grey: downbeats, orange ticks: four-beat segments; bands "
             "along the bottom: the detected sections (§, bars; a green line where the downbeat phase changes)</div></div>\n";
    } catch (const Error& e) {
        h << "<div class=\"warn\">cannot draw the mixture: " << esc(e.what()) << "</div>";
        problems += std::string(e.what()) + "\n";
    }
    Track mixture{"mixture", input, nullptr, song.value("mixture", nlohmann::json::object()).value("level_dbfs", 0.0), 1, false};
    h << track_html(mixture, base_dir, problems);
    for (const auto& t : song.value("targets", nlohmann::json::array()))
        h << track_html({t.value("name", std::string("?")), t.value("path", std::string("")), &t, t.value("level_dbfs", 0.0),
                         t.value("energy_share", 0.0), true},
                        base_dir, problems);
    if (song.contains("residual") && song["residual"].is_object()) {
        const auto& r = song["residual"];
        h << track_html({"residual", r.value("path", std::string("")), nullptr, r.value("level_dbfs", 0.0),
                         r.value("energy_share", 0.0), true},
                        base_dir, problems);
    }
    h << "</section>\n";
    return h.str();
}

const char* kStyle = R"(body{font-family:sans-serif;margin:16px;background:#fff;color:#222;max-width:1000px}
h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-top:1px solid #ccc;padding-top:10px}
.track{margin:10px 0}.head{font-size:13px;margin-bottom:3px}.lvl{color:#245}.share,.query,.sdr{color:#555;margin-left:8px}
audio{height:28px;vertical-align:middle}code{font-size:11px;color:#777}img,svg.timeline{display:block}img.legend{display:inline-block;vertical-align:middle}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:3px 6px;font-size:13px;margin:3px 0}
.key,.timings{font-size:12px;color:#555}
.axis{position:relative;height:14px;font-size:10px;color:#555}.axis span{position:absolute;top:0;border-left:1px solid #999;padding-left:2px})";

// Loads last: tells a headless browser (and a curious reader) what rendered. <body> gets
// data-images-loaded / data-images-failed / data-spectrograms-loaded when the images are decoded,
// data-timelines-drawn (timeline SVGs laid out at their full width), and data-script-errors counts
// window errors.
const char* kScript = R"(<script>
(function () {
  var b = document.body, imgs = Array.prototype.slice.call(document.images), ok = 0, bad = 0, spec = 0;
  b.setAttribute('data-script-errors', '0');
  b.setAttribute('data-timelines-drawn', String(Array.prototype.filter.call(document.querySelectorAll('svg.timeline'),
      function (s) { return Math.round(s.getBoundingClientRect().width) === Number(s.getAttribute('width')); }).length));
  window.onerror = function (m) {
    b.setAttribute('data-script-errors', String(Number(b.getAttribute('data-script-errors')) + 1));
    b.setAttribute('data-last-error', String(m));
  };
  function show() {
    b.setAttribute('data-images-loaded', String(ok));
    b.setAttribute('data-images-failed', String(bad));
    b.setAttribute('data-spectrograms-loaded', String(spec));
  }
  imgs.forEach(function (img) {
    function loaded() { if (img.naturalWidth > 0) { ok++; if (img.className === 'spec') spec++; } else bad++; show(); }
    if (img.complete) loaded();
    else { img.addEventListener('load', loaded); img.addEventListener('error', function () { bad++; show(); }); }
  });
  show();
})();
</script>)";

}  // namespace

nlohmann::json relative_to(const nlohmann::json& run, const std::string& dir) {
    nlohmann::json out = run;
    for (auto& song : out["songs"]) {
        song["input"] = relative_path(song["input"], dir);
        for (auto& t : song["targets"]) {
            t["path"] = relative_path(t["path"], dir);
            if (t["query"].value("kind", "") == "file") t["query"]["path"] = relative_path(t["query"]["path"], dir);
            if (t.contains("reference")) t["reference"]["path"] = relative_path(t["reference"]["path"], dir);
        }
        if (song["residual"].is_object()) song["residual"]["path"] = relative_path(song["residual"]["path"], dir);
        if (song.contains("reference_stems")) {
            auto& rs = song["reference_stems"];
            if (rs["dir"].is_string()) rs["dir"] = relative_path(rs["dir"], dir);
            for (auto& f : rs["searched"]) f = relative_path(f, dir);
        }
    }
    return out;
}

std::vector<std::string> add_reference_scores(nlohmann::json& run, const std::string& base_dir,
                                              const std::string& reference_dir) {
    if (!fs::is_directory(reference_dir)) throw input_error(reference_dir + ": not a directory (--reference-dir)");
    // As stored in `run`: relative to base_dir (the current folder when that is ".").
    auto shown = [&](const std::string& path) { return base_dir == "." ? path : relative_path(path, base_dir); };
    // REF/<target>.{wav,flac} scores a single song only: with several it would score each against the same stems.
    const bool one_song = run["songs"].size() == 1;
    std::vector<std::string> notes;
    for (auto& song : run["songs"]) {
        const std::string input = song["input"].get<std::string>();
        std::vector<std::string> folders;
        auto candidate = [&](const std::string& folder) {
            if (std::find(folders.begin(), folders.end(), folder) == folders.end()) folders.push_back(folder);
        };
        const auto output_name = song.value("output_name", nlohmann::json());
        if (output_name.is_string() && !output_name.get<std::string>().empty())
            candidate((fs::path(reference_dir) / output_name.get<std::string>()).string());
        candidate((fs::path(reference_dir) / fs::path(input).stem()).string());
        if (one_song) candidate(reference_dir);
        auto stem_in = [](const std::string& folder, const std::string& target) {
            for (const char* ext : {".wav", ".flac"})
                if (fs::is_regular_file(folder + "/" + target + ext)) return folder + "/" + target + ext;
            return std::string();
        };
        std::string chosen;
        for (const auto& folder : folders)
            for (const auto& t : song["targets"])
                if (chosen.empty() && !stem_in(folder, t["name"].get<std::string>()).empty()) chosen = folder;
        nlohmann::json searched = nlohmann::json::array();
        for (const auto& folder : folders) searched.push_back(shown(folder));
        song["reference_stems"] = {{"dir", chosen.empty() ? nlohmann::json() : nlohmann::json(shown(chosen))}, {"searched", searched}};
        std::optional<Audio> mixture;
        int scored = 0;
        for (auto& t : song["targets"]) {
            t.erase("reference");  // from an earlier --reference-dir: this one replaces it
            const std::string ref_path = chosen.empty() ? "" : stem_in(chosen, t["name"].get<std::string>());
            if (ref_path.empty()) continue;
            ReadOptions ro;
            ro.target_rate_hz = 0;
            const Audio ref = read_audio(ref_path, ro);  // a silent reference has no SDR: an error naming it
            const Audio est = read_any(resolve(base_dir, t["path"]));
            if (!mixture) mixture = read_any(resolve(base_dir, input));
            const QualityScores q = compare(ref, est), qm = compare(ref, *mixture);
            t["reference"] = {{"path", shown(ref_path)}, {"sdr_db", q.sdr_db}, {"si_sdr_db", q.si_sdr_db},
                              {"mixture_sdr_db", qm.sdr_db}};
            ++scored;
        }
        std::string looked;
        for (const auto& folder : folders) looked += (looked.empty() ? "" : ", ") + folder;
        const std::string song_path = resolve(base_dir, input);  // as the user would name it from here
        notes.push_back(chosen.empty() ? "warning: " + song_path + ": no true stems for its targets in " + looked + " (--reference-dir): no SDR"
                                       : song_path + ": true stems from " + chosen + " (" + std::to_string(scored) + " of " +
                                             std::to_string(song["targets"].size()) + " targets scored)");
    }
    return notes;
}

std::string report_html(const nlohmann::json& run, const std::string& base_dir) {
    std::ostringstream h;
    std::string problems;
    h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>loopsep report</title><style>" << kStyle
      << "</style></head>\n<body>\n<h1>loopsep separation report</h1>\n<p>loopsep " << esc(run.value("version", std::string("?")))
      << ", model <code>" << esc(run.value("model", std::string("?"))) << "</code>, genre " << esc(run.value("genre", std::string("?")))
      << ", " << run.value("songs", nlohmann::json::array()).size() << " song(s)</p>\n"
      << "<p class=\"key\">Spectrograms: 30 Hz – 16 kHz on a log-frequency axis, time left to right, one colour scale for all: "
      << num(kSpectrogramFloorDb, "%.0f") << " dBFS " << img_tag(legend_image(), "legend", "colour scale") << " "
      << num(kSpectrogramTopDb, "%.0f") << " dBFS. Levels: RMS over all channels.</p>\n";
    for (const auto& f : run.value("failed", nlohmann::json::array()))
        h << "<div class=\"warn\">not separated: " << esc(f.value("input", std::string("?"))) << ": "
          << esc(f.value("error", std::string(""))) << "</div>\n";
    for (const auto& song : run.value("songs", nlohmann::json::array())) h << song_html(song, base_dir, problems);
    h << kScript << "\n</body></html>\n";
    return h.str();
}

void write_report(const nlohmann::json& run_relative, const std::string& dir) {
    auto write_file = [&](const std::string& name, const std::string& text) {
        const std::string path = (fs::path(dir) / name).string();
        const std::string tmp = temp_path_for(path);
        {
            std::ofstream out(tmp, std::ios::binary);
            out << text;
            if (!out) throw input_error(path + ": cannot write");
        }
        commit_file(tmp, path);
    };
    write_file("run.json", run_relative.dump(2) + "\n");
    write_file("report.html", report_html(run_relative, dir));
}

}  // namespace loopsep::report
