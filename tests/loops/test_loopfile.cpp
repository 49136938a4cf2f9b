// DAW-ready loop WAVs: acid/smpl chunks read back by libsndfile itself; names.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <dirent.h>

#include "loopsep/audio.h"
#include "loopsep/error.h"
#include "loopsep/loopfile.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::TempDir;

namespace {
int count_entries(const std::string& dir) {
    int n = 0;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d))
            if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
        closedir(d);
    }
    return n;
}
}  // namespace

TEST(LoopFile, AcidAndSmplRoundTripThroughLibsndfile) {
    TempDir dir;
    const std::string path = dir.file("loop.wav");
    Audio audio = loopsep::testing::noise(2.0, 2, 11);
    LoopInfo info;
    info.tempo_bpm = 127.5;
    info.beats = 4;
    info.root_note = 57;  // A3
    write_loop_wav(path, audio, info);

    LoopInfo back = read_loop_info(path);
    EXPECT_FLOAT_EQ(float(back.tempo_bpm), 127.5f);
    EXPECT_EQ(back.beats, 4);
    EXPECT_EQ(back.root_note, 57);
    EXPECT_TRUE(back.loop);
    EXPECT_EQ(back.meter_numerator, 4);
    EXPECT_EQ(back.meter_denominator, 4);

    // libsndfile's own view, independent of read_loop_info.
    SF_INFO sfinfo{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &sfinfo);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(sfinfo.frames, sf_count_t(audio.frames()));
    EXPECT_EQ(sfinfo.channels, 2);
    SF_LOOP_INFO li{};
    ASSERT_EQ(sf_command(f, SFC_GET_LOOP_INFO, &li, sizeof(li)), SF_TRUE);
    EXPECT_FLOAT_EQ(float(li.bpm), 127.5f);
    EXPECT_EQ(li.num_beats, 4);
    EXPECT_EQ(li.loop_mode, SF_LOOP_FORWARD);
    EXPECT_EQ(li.root_key, 57);
    EXPECT_EQ(li.time_sig_num, 4);
    EXPECT_EQ(li.time_sig_den, 4);
    SF_INSTRUMENT inst{};
    ASSERT_EQ(sf_command(f, SFC_GET_INSTRUMENT, &inst, sizeof(inst)), SF_TRUE);
    ASSERT_EQ(inst.loop_count, 1);
    EXPECT_EQ(inst.loops[0].mode, SF_LOOP_FORWARD);
    EXPECT_EQ(inst.loops[0].start, 0u);
    EXPECT_EQ(inst.loops[0].end, unsigned(audio.frames()));  // libsndfile reports the end exclusive
    EXPECT_EQ(inst.basenote, 57);
    sf_close(f);

    // The audio itself is intact (16-bit).
    Audio read = read_audio(path);
    ASSERT_EQ(read.frames(), audio.frames());
    for (std::size_t i = 0; i < read.frames(); i += 997)
        EXPECT_NEAR(read.channels[1][i], audio.channels[1][i], 1.0 / 16384);
}

TEST(LoopFile, OneShotUnknownRootAndOtherMeter) {
    TempDir dir;
    const std::string path = dir.file("hit.wav");
    LoopInfo info;
    info.tempo_bpm = 90;
    info.beats = 3;
    info.loop = false;
    info.meter_numerator = 3;
    info.meter_denominator = 4;
    write_loop_wav(path, loopsep::testing::sine(220, 0.5), info, {FileFormat::Wav, SampleBits::Float32});
    LoopInfo back = read_loop_info(path);
    EXPECT_DOUBLE_EQ(back.tempo_bpm, 90.0);
    EXPECT_EQ(back.beats, 3);
    EXPECT_FALSE(back.loop);
    EXPECT_EQ(back.root_note, -1);
    EXPECT_EQ(back.meter_numerator, 3);
    EXPECT_EQ(back.meter_denominator, 4);
}

TEST(LoopFile, BadRequestsLeaveNoFile) {
    TempDir dir;
    Audio audio = loopsep::testing::sine(220, 0.5);
    LoopInfo bad;  // tempo 0
    EXPECT_THROW(write_loop_wav(dir.file("a.wav"), audio, bad), Error);
    LoopInfo ok;
    ok.tempo_bpm = 120;
    EXPECT_THROW(write_loop_wav(dir.file("a.flac"), audio, ok, {FileFormat::Flac, SampleBits::Int16}), Error);
    ok.root_note = 200;
    EXPECT_THROW(write_loop_wav(dir.file("a.wav"), audio, ok), Error);
    ok.root_note = -1;
    EXPECT_THROW(write_loop_wav(dir.file("no/such/dir/a.wav"), audio, ok), Error);
    EXPECT_EQ(count_entries(dir.path()), 0);
}

TEST(LoopFile, ReadingFilesWithoutLoopInfoIsAnInputError) {
    TempDir dir;
    write_audio(dir.file("plain.wav"), loopsep::testing::sine(220, 0.5), {});
    loopsep::testing::write_text(dir.file("text.wav"), "not audio at all\n");
    for (const char* name : {"plain.wav", "text.wav", "missing.wav"}) {
        try {
            read_loop_info(dir.file(name));
            FAIL() << name;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input) << name;
            EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
        }
    }
}

TEST(LoopFile, NamesFollowTheLibraryConventionWithAbsentFieldsLeftOut) {
    // All fields: <genre>_<instrument>_<bpm>bpm_<key>_<section>_<song>_<nnnn>.wav
    EXPECT_EQ(loop_file_name({"bachata", "bongo", 128, "Am", "derecho", "bachata_777_0003", 1}),
              "bachata_bongo_128bpm_amin_derecho_bachata-777-0003_0001.wav");
    // No key, no section, no song: left out with their separators, never "x".
    EXPECT_EQ(loop_file_name({"hiphop", "drums", 95, "", "", "", 1}), "hiphop_drums_95bpm_0001.wav");
    EXPECT_EQ(loop_file_name({"hiphop", "drums", 95, "", "verse", "", 7}), "hiphop_drums_95bpm_verse_0007.wav");
    EXPECT_EQ(loop_file_name({"hiphop", "bass", 95, "Bb minor", "", "beat", 7}), "hiphop_bass_95bpm_a#min_beat_0007.wav");
    EXPECT_EQ(loop_file_name({"hiphop", "bass", 95, "F#", "", "", 7}), "hiphop_bass_95bpm_f#maj_0007.wav");
    // Sanitised: lower case, other characters → one '-', trimmed; '_' only between fields.
    EXPECT_EQ(loop_file_name({"Hip-Hop", "Drum Kit!", 89.6, "", "Verse / 2", "", 42}),
              "hip-hop_drum-kit_90bpm_verse-2_0042.wav");
    // A key tag that is not a key still shows, sanitised ('#' kept); a field of nothing but junk is absent.
    EXPECT_EQ(loop_file_name({"", "  ", 120, "modal #4", "é__", "", 12345}), "120bpm_modal-#4_12345.wav");
    EXPECT_THROW(loop_file_name({"a", "b", 0, "", "c", "", 1}), Error);
    EXPECT_THROW(loop_file_name({"a", "b", 120, "", "c", "", -1}), Error);
}

TEST(LoopFile, SongFieldIsTheSanitisedStemOrTheFolderOfAMix) {
    EXPECT_EQ(song_name_field("/music/Album/01 My Song (Live).mp3"), "01-my-song-live");
    EXPECT_EQ(song_name_field("val/bachata_777_0003/mix.wav"), "bachata-777-0003");  // synth songs
    EXPECT_EQ(song_name_field("musdb/Some Artist - Track/mixture.wav"), "some-artist-track");
    EXPECT_EQ(song_name_field("mix.wav"), "mix");  // no folder to name it: the stem stays
    EXPECT_EQ(song_name_field("Ñandú.flac"), "and");
    EXPECT_EQ(song_name_field("___.wav"), "");
    // At most 32 characters, never ending on '-'.
    EXPECT_EQ(song_name_field(std::string(40, 'a') + ".wav"), std::string(32, 'a'));
    EXPECT_EQ(song_name_field(std::string(31, 'a') + " b.wav"), std::string(31, 'a'));
}

TEST(LoopFile, HarvestSourcesNameTheirSong) {
    const std::string src = harvest_source("song_a/mix.wav", 3, 4.5);
    EXPECT_EQ(src, "song_a/mix.wav bar 3 @ 4.500 s");
    EXPECT_EQ(song_of_source(src), "song_a/mix.wav");
    EXPECT_EQ(song_of_source(harvest_source("a b/c bar 2.wav", 12, 100.25)), "a b/c bar 2.wav");
    EXPECT_EQ(song_of_source("TimGM6mb.sf2 128:40 Brush"), "");  // a loop not harvested: no song
    EXPECT_EQ(song_of_source(""), "");
}
