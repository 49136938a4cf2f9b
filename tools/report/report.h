// The separation report: one HTML page per run (report.html) beside the stems, rebuilt at will from
// the run's JSON (run.json, docs/separate.schema.json) and the audio files it names. Per song: the
// mixture's and every stem's log-frequency spectrogram on one dB scale, a waveform overview with the
// beat grid, downbeats, four-beat segments and detected sections, each stem's level and share of the mixture's energy,
// the query, an <audio> player per stem, timings and the model; with reference stems, SDR per stem
// next to the mixture's own score.
#pragma once

#include <string>

#include <vector>

#include <nlohmann/json.hpp>

#include "report/png.h"

namespace loopsep::report {

// The spectrogram's fixed dB scale (dBFS of a full-scale sine's bin = 0): the same for every image.
constexpr double kSpectrogramTopDb = -10.0, kSpectrogramFloorDb = -90.0;
// Colour steps on that scale (1.27 dB each): at most this many colours per image, so each is a small
// palette PNG (a quarter of the bytes of 256 steps' RGB, and no step a reader's eye could tell apart).
constexpr int kSpectrogramLevels = 64;
constexpr int kImageWidth = 960, kSpectrogramHeight = 180, kTimelineHeight = 90;
constexpr double kSpectrogramMinHz = 30.0, kSpectrogramMaxHz = 16000.0;

// The colour of a spectrogram value in dBFS (clamped to the scale, one of kSpectrogramLevels): dark
// to light, magma-like.
Rgb spectrogram_colour(double db);
// The image row (0 = top) that shows `hz` for audio at `rate_hz`.
int spectrogram_row(double hz, int rate_hz);
// kImageWidth × kSpectrogramHeight: one 2048-point frame centred in each column, each row its
// loudest bin over a log-frequency band from kSpectrogramMinHz to kSpectrogramMaxHz (or Nyquist).
Image spectrogram_image(const std::vector<float>& samples, int rate_hz);

// `run` with every path made relative to `dir` (what run.json holds): report pages and players then
// keep working when the folder moves, as long as the songs stay where they were relative to it.
nlohmann::json relative_to(const nlohmann::json& run, const std::string& dir);

// Scores every song against its true stems in `reference_dir`. A song's folder of true stems is the
// first of these holding <target>.{wav,flac} for one of its targets: REF/<output_name> (the song's
// folder under --outdir, mirrored and told apart like the outputs: "x-2" for a second x.wav),
// REF/<input file's stem>, and REF itself when the run has one song. Each target with a stem there
// gets "reference" {path, sdr_db, si_sdr_db, mixture_sdr_db} (an older one is dropped), and each song
// "reference_stems" {dir (null when none was found), searched}. Paths in `run` are relative to
// `base_dir`, and so are the ones added. Returns one line per song for stderr: the folder used, or
// "warning: ..." saying that none was found.
std::vector<std::string> add_reference_scores(nlohmann::json& run, const std::string& base_dir,
                                              const std::string& reference_dir);

// The page's HTML for `run` (paths relative to `base_dir`, which is where the page goes).
std::string report_html(const nlohmann::json& run, const std::string& base_dir);

// Writes <dir>/run.json and <dir>/report.html (each under a temporary name, then renamed).
void write_report(const nlohmann::json& run_relative, const std::string& dir);

}  // namespace loopsep::report
