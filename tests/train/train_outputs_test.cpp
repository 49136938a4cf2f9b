// `loopsep train` under the output rule (loopsep/files.h): an existing --out, --out-last or --checkpoint
// is refused without --force, except the files of the run that `--resume CKPT` goes on with; a FIFO,
// the --resume file and a cache are never written over. Refusals come before any data is read.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "loopsep/safetensors.h"
#include "loopsep/train.h"
#include "test_util.h"
#include "toy_cache.h"

using namespace loopsep;
namespace lt = loopsep::testing;

namespace {

// A train run in a folder holding a.cache (the CLI's window geometry, a tiny net): `extra` adds the
// outputs and options. Runs in `dir`, so file names are relative.
struct Runs {
    lt::TempDir dir;
    Runs() { write_segment_cache(dir.file("a.cache"), lt::toy_cache(ModelConfig(), 3, 1)); }
    lt::RunResult train(const std::string& extra) const {
        return lt::run_loopsep("train --cache a.cache --steps 1 --batch 2 --threads 1 --channels 8,8,16 --bands 32"
                               " --query-channels 8,8 --embedding 16 --quiet " + extra,
                               dir.path());
    }
    std::string text(const std::string& name) const { return lt::read_text(dir.file(name)); }
};

bool is_fifo(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode);
}

}  // namespace

TEST(TrainOutputs, ExistingOutputsAreRefusedWithoutForce) {
    Runs r;
    ASSERT_EQ(r.train("--out m.safetensors").exit_code, 0);
    const std::string first = r.text("m.safetensors");
    const auto again = r.train("--out m.safetensors");
    EXPECT_EQ(again.exit_code, 1) << again.err;
    EXPECT_EQ(again.err, "loopsep: m.safetensors: exists (use --force to overwrite)\n");
    EXPECT_EQ(r.text("m.safetensors"), first);
    lt::write_text(r.dir.file("last.safetensors"), "keep");
    lt::write_text(r.dir.file("run.ckpt"), "keep");
    auto last = r.train("--out n.safetensors --out-last last.safetensors");
    EXPECT_EQ(last.exit_code, 1);
    EXPECT_NE(last.err.find("last.safetensors: exists (use --force to overwrite)"), std::string::npos) << last.err;
    auto ckpt = r.train("--out n.safetensors --checkpoint run.ckpt");
    EXPECT_EQ(ckpt.exit_code, 1);
    EXPECT_NE(ckpt.err.find("run.ckpt: exists (use --force to overwrite)"), std::string::npos) << ckpt.err;
    EXPECT_FALSE(lt::file_exists(r.dir.file("n.safetensors")));   // refused before training
    EXPECT_EQ(r.text("last.safetensors"), "keep");
    EXPECT_EQ(r.text("run.ckpt"), "keep");
    // --force overwrites all three.
    const auto forced = r.train("--out m.safetensors --out-last last.safetensors --checkpoint run.ckpt --force");
    ASSERT_EQ(forced.exit_code, 0) << forced.err;
    EXPECT_NE(r.text("last.safetensors"), "keep");
    EXPECT_TRUE(read_safetensors(r.dir.file("run.ckpt")).metadata.count("run"));
    // --prepare-only writes no model: the documented `--out unused` may exist.
    EXPECT_EQ(r.train("--out m.safetensors --prepare-only").exit_code, 0);
}

TEST(TrainOutputs, AFifoTheResumedModelOrACacheIsNeverWrittenOver) {
    Runs r;
    ASSERT_EQ(::mkfifo(r.dir.file("p").c_str(), 0644), 0);
    for (const char* flag : {"--out p", "--out m.safetensors --out-last p", "--out m.safetensors --checkpoint p"}) {
        const auto fifo = r.train(std::string(flag) + " --force");
        EXPECT_EQ(fifo.exit_code, 1) << flag;
        EXPECT_EQ(fifo.err, "loopsep: p: not a regular file (a FIFO), refusing to replace it\n") << flag;
        EXPECT_TRUE(is_fifo(r.dir.file("p")));
    }
    // A cache prepared from folders is written too: never over a FIFO (checked before any folder is read).
    const auto cache_fifo = lt::run_loopsep("train --data . --cache p --out n.safetensors", r.dir.path());
    EXPECT_EQ(cache_fifo.exit_code, 1);
    EXPECT_EQ(cache_fifo.err, "loopsep: p: not a regular file (a FIFO), refusing to replace it\n");
    ASSERT_EQ(r.train("--out m.safetensors").exit_code, 0);
    const std::string model = r.text("m.safetensors");
    const auto self = r.train("--resume m.safetensors --out m.safetensors --force");
    EXPECT_EQ(self.exit_code, 1);
    EXPECT_NE(self.err.find("m.safetensors: is the input file m.safetensors"), std::string::npos) << self.err;
    EXPECT_EQ(r.text("m.safetensors"), model);
    const auto cache = r.train("--out a.cache --force");
    EXPECT_EQ(cache.exit_code, 1);
    EXPECT_NE(cache.err.find("a.cache: is the input file a.cache"), std::string::npos) << cache.err;
    const auto last_cache = r.train("--out n.safetensors --out-last ./a.cache --force");   // another path, same file
    EXPECT_EQ(last_cache.exit_code, 1);
    EXPECT_NE(last_cache.err.find("./a.cache: is the input file a.cache"), std::string::npos) << last_cache.err;
}

// A run resumed from its checkpoint rewrites its own --out, --out-last and checkpoint; anything else
// that exists is refused as for a new run, and a fine-tune from a model file is a new run.
TEST(TrainOutputs, ResumingACheckpointRewritesTheRunsOwnFilesOnly) {
    Runs r;
    const std::string run = "--out m.safetensors --out-last l.safetensors --checkpoint c.ckpt";
    ASSERT_EQ(r.train(run).exit_code, 0);
    EXPECT_EQ(nlohmann::json::parse(read_safetensors(r.dir.file("c.ckpt")).metadata.at("run")).at("out_last"),
              "l.safetensors");
    const auto resumed = r.train(run + " --resume c.ckpt");
    EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.err.find("resuming the run in c.ckpt"), std::string::npos) << resumed.err;
    // Into a checkpoint of its own (a fork of the run): the new name must be free.
    lt::write_text(r.dir.file("other.ckpt"), "keep");
    const auto fork = r.train("--out m.safetensors --out-last l.safetensors --checkpoint other.ckpt --resume c.ckpt");
    EXPECT_EQ(fork.exit_code, 1);
    EXPECT_NE(fork.err.find("other.ckpt: exists"), std::string::npos) << fork.err;
    lt::write_text(r.dir.file("x.safetensors"), "keep");
    const auto other_out = r.train("--out x.safetensors --checkpoint c.ckpt --resume c.ckpt");
    EXPECT_EQ(other_out.exit_code, 1);
    EXPECT_NE(other_out.err.find("x.safetensors: exists"), std::string::npos) << other_out.err;
    const auto other_last = r.train("--out m.safetensors --out-last x.safetensors --checkpoint c.ckpt --resume c.ckpt");
    EXPECT_EQ(other_last.exit_code, 1);
    EXPECT_NE(other_last.err.find("x.safetensors: exists"), std::string::npos) << other_last.err;
    EXPECT_EQ(r.text("x.safetensors"), "keep");
    // A model file starts a new run: its outputs follow the rule.
    const auto finetune = r.train("--resume m.safetensors --out l.safetensors");
    EXPECT_EQ(finetune.exit_code, 1);
    EXPECT_NE(finetune.err.find("l.safetensors: exists"), std::string::npos) << finetune.err;
    // A checkpoint written before the --out-last record: any --out-last is taken as the run's.
    auto file = read_safetensors(r.dir.file("c.ckpt"));
    auto meta = nlohmann::json::parse(file.metadata.at("run"));
    meta.erase("out_last");
    file.metadata["run"] = meta.dump();
    write_safetensors(r.dir.file("c.ckpt"), file);
    const auto old = r.train("--out m.safetensors --out-last x.safetensors --checkpoint c.ckpt --resume c.ckpt");
    EXPECT_EQ(old.exit_code, 0) << old.err;
    EXPECT_NE(r.text("x.safetensors"), "keep");
}
