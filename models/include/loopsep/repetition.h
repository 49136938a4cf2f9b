// loopsep — the song's repetition as an input to the net (ModelConfig::repetition_neighbours).
//
// After tempo normalisation every four-beat window of a song lines up with every other, and in
// loop-based music most of them repeat. A window's repetition template is the element-wise median of
// the band magnitudes of the K other windows of the song most like it (REPET-SIM, Rafii & Pardo 2012,
// on the bar grid): what keeps coming back, bar after bar, in this song. The net gets it beside the
// window and learns which repeating part the query names. The trainer and the engine build it with
// these same functions, so the net sees at run time what it saw in training.
//
// Band magnitudes: window_frames × num_bands, time-major (Separator::window_bands).
#pragma once

#include <cstddef>
#include <vector>

namespace loopsep {

struct RepetitionGeometry {
    int frames = 0, bands = 0;                      // of a window's band magnitudes
    int centre_begin_frames = 0, centre_frames = 0; // the four-beat centre: what "alike" compares
    int neighbours = 4;                              // K
    void validate() const;                           // usage error naming the field
};

// How alike two windows are: the correlation of their log band magnitudes (log1p) over the centre
// frames, in [−1, 1]: level-independent, so a quieter repeat of a bar still counts as a repeat.
// `log_centre` vectors come from log_centre_vector (centred and scaled to unit norm once per window).
std::vector<float> log_centre_vector(const float* window_bands, const RepetitionGeometry& g);
float similarity(const std::vector<float>& a, const std::vector<float>& b);

// One window's template from candidate windows (other bars of its song): the element-wise median over
// the K candidates most alike (all of them when there are K or fewer; the window itself when there is
// none). `chosen` (optional) receives the indices of the candidates used, most alike first.
void repetition_template(const float* window_bands, const std::vector<const float*>& candidates,
                         const RepetitionGeometry& g, float* out, std::vector<int>* chosen = nullptr);

// Every window of one song against all the others: templates[i] for window_bands[i]; `chosen`
// (optional) receives, per window, the indices of the windows used, most alike first.
std::vector<std::vector<float>> repetition_templates(const std::vector<std::vector<float>>& window_bands,
                                                     const RepetitionGeometry& g,
                                                     std::vector<std::vector<int>>* chosen = nullptr);

}  // namespace loopsep
