// loopsep — song folders for training and benchmarks: `loopsep synth` songs and your own multitracks.
//
// A data folder holds one folder per song. Two kinds are told apart by meta.json:
//  * synth songs (`loopsep synth`): meta.json, mix.wav, stems/<instrument>.wav;
//  * multitrack songs (any other folder holding .wav/.flac files; one with a stems/ subfolder but no
//    meta.json, an interrupted synth song, is skipped), the layout of models/TRAINING.md:
//      <song>/<instrument>.wav|.flac  one stem per instrument; the file name is the instrument name
//      <song>/mixture.wav|.flac       optional. Absent: the mixture is the sum of the stems. Present:
//                                     what the stems leave out (mixture − Σ stems) is added to the
//                                     "other" stem (made when there is none and the rest is audible)
//      <song>/beats.txt               optional beat annotation (read_beat_annotation); absent: the
//                                     caller estimates the downbeats on the mixture (the beat tracker)
//    Decoded MUSDB18 (<root>/{train,test}/<track>/{mixture,drums,bass,other,vocals}.wav) is this
//    layout one level down: a folder with no songs but a train/ or test/ subfolder gives those.
// Stems are read at the engine rate (resampled by read_audio) with the most channels any file of
// the song has (a mono file is copied to both channels of a stereo song), and may differ in length
// by at most kStemLengthToleranceSec (the shorter ones are padded with silence).
#pragma once

#include <string>
#include <vector>

#include "loopsep/audio.h"

namespace loopsep {

// How much stems (and the mixture) of one song may differ in length: export jitter, resampling.
inline constexpr double kStemLengthToleranceSec = 0.1;

struct SongFolder {
    std::string dir;
    bool synth = false;  // a `loopsep synth` song (meta.json); else a multitrack song
};

// The song folders of `data_dir` in name order. Without any, the folder's `musdb_subset` subfolder
// ("train" or "test": MUSDB18's layout) is searched instead. Input error naming `data_dir` when it is
// not a folder or holds no song.
std::vector<SongFolder> find_song_folders(const std::string& data_dir, const std::string& musdb_subset);

struct MultitrackSong {
    std::string dir, name;                 // name: "<data folder>/<song>", as synth songs are named
    Audio mixture;
    std::vector<std::string> instruments;  // in name order
    std::vector<Audio> stems;              // per instrument, as long as the mixture, its channels
    std::vector<double> downbeats_sec;     // from beats.txt; empty without one
};

struct MultitrackReadOptions {
    bool mono = false;                     // every file read as its mean over channels (the trainer's view)
};

// Reads one multitrack song folder. Input errors (one line naming the file): no stems, an unreadable
// file, two files for one instrument, lengths differing by more than the tolerance, a bad beats.txt.
MultitrackSong read_multitrack_song(const std::string& dir, const MultitrackReadOptions& options = {});

// beats.txt: one beat per line, "<time_sec>" or "<time_sec> <beat_in_bar>" (space, tab or comma;
// '#' starts a comment). With the second column the bar starts are the beats numbered 1; without it
// every fourth beat from the first. Returns the downbeat times; input error naming the file and line
// for a bad number, times that do not increase, or fewer than two bar starts.
std::vector<double> read_beat_annotation(const std::string& path);

}  // namespace loopsep
