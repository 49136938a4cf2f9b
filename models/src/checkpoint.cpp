// The trainer's full checkpoint (see checkpoint.h).
#include "checkpoint.h"

#include <sstream>
#include <type_traits>

#include "loopsep/error.h"

namespace loopsep::checkpoint {

namespace {

constexpr const char* kFormat = "loopsep-checkpoint";
constexpr const char* kVersion = "1";
const std::string kAdamM = "adam_m/", kAdamV = "adam_v/", kAverage = "average/";

// Adam's state is keyed by the parameter's TensorImpl: its address as text in LibTorch 1.x, the
// pointer itself in 2.x (the GPU trainer may be built against either).
template <class Key>
Key state_key(const torch::Tensor& param) {
    if constexpr (std::is_same_v<Key, std::string>) {
        std::ostringstream o;
        o << param.unsafeGetTensorImpl();
        return o.str();
    } else {
        return static_cast<Key>(param.unsafeGetTensorImpl());
    }
}
using StateKey = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state())>::key_type;

NamedTensor to_named(const torch::Tensor& t) {
    const auto c = t.detach().to(torch::kCPU).to(torch::kFloat32).contiguous();
    NamedTensor n;
    n.shape.assign(c.sizes().begin(), c.sizes().end());
    n.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return n;
}

// The tensor `name` of the checkpoint, shaped like `like` and on its device.
torch::Tensor tensor_like(const Checkpoint& c, const std::string& name, const torch::Tensor& like) {
    const auto it = c.file.tensors.find(name);
    if (it == c.file.tensors.end()) throw input_error(c.what + ": checkpoint lacks tensor '" + name + "'");
    const auto& t = it->second;
    if (!std::equal(t.shape.begin(), t.shape.end(), like.sizes().begin(), like.sizes().end()))
        throw input_error(c.what + ": checkpoint tensor '" + name + "' has the wrong shape");
    return torch::from_blob(const_cast<float*>(t.values.data()), like.sizes(), torch::kFloat32).clone().to(like.device());
}

std::string rng_text(const std::mt19937_64& r) {
    std::ostringstream o;
    o << r;
    return o.str();
}

std::mt19937_64 rng_from(const nlohmann::json& run, const char* key, const std::string& what) {
    std::mt19937_64 r;
    std::istringstream i(run.at(key).get<std::string>());
    i >> r;
    if (!i) throw input_error(what + ": checkpoint random stream '" + key + "' is corrupt");
    return r;
}

}  // namespace

nlohmann::json schedule_json(const TrainParams& p) {
    return {{"steps", p.steps},
            {"batch", p.batch},
            {"lr", p.lr},
            {"seed", p.seed},
            {"warmup_steps", p.warmup_steps},
            {"max_minutes", p.max_minutes},
            {"loss", train_loss_name(p.loss)},
            {"ema_decay", p.ema_decay},
            {"fine_lr_scale", p.fine_lr_scale},
            {"silent_fraction", p.silent_fraction},
            {"same_bar_fraction", p.same_bar_fraction},
            {"pair_fraction", p.pair_fraction},
            {"augment_eq_db", p.augment_eq_db},
            {"augment_pitch_semitones", p.augment_pitch_semitones},
            {"generic_fraction", p.generic_fraction},
            {"self_query_fraction", p.self_query_fraction},
            {"accompaniment_only", p.accompaniment_only}};
}

std::vector<std::string> apply_schedule(const nlohmann::json& s, TrainParams& p) {
    const auto given = schedule_json(p);
    std::vector<std::string> changed;
    for (auto it = s.begin(); it != s.end(); ++it)
        if (given.contains(it.key()) && given.at(it.key()) != it.value())
            changed.push_back(it.key() + ": " + given.at(it.key()).dump() + " → " + it.value().dump());
    p.steps = s.at("steps").get<long>();
    p.batch = s.at("batch").get<int>();
    p.lr = s.at("lr").get<double>();
    p.seed = s.at("seed").get<std::uint64_t>();
    p.warmup_steps = s.at("warmup_steps").get<long>();
    p.max_minutes = s.at("max_minutes").get<double>();
    p.loss = parse_train_loss(s.at("loss").get<std::string>());
    p.ema_decay = s.at("ema_decay").get<double>();
    p.fine_lr_scale = s.at("fine_lr_scale").get<double>();
    p.silent_fraction = s.at("silent_fraction").get<double>();
    p.same_bar_fraction = s.at("same_bar_fraction").get<double>();
    p.pair_fraction = s.at("pair_fraction").get<double>();
    p.augment_eq_db = s.at("augment_eq_db").get<double>();
    p.augment_pitch_semitones = s.at("augment_pitch_semitones").get<double>();
    p.generic_fraction = s.at("generic_fraction").get<double>();
    p.self_query_fraction = s.value("self_query_fraction", 0.0);   // absent before same-song queries: none
    p.accompaniment_only = s.at("accompaniment_only").get<std::vector<std::string>>();
    return changed;
}

nlohmann::json data_json(const SegmentCache& c) {
    return {{"segments", c.segments.size()}, {"songs", c.songs.size()}, {"instruments", c.instruments},
            {"description", c.description}};
}

void write(const std::string& path, const RunState& s, const ModelConfig& config, net::LoopSepNet& model,
           torch::optim::Adam& adam, const std::vector<torch::Tensor>* average) {
    ModelConfig cfg = config;
    cfg.training_steps = s.step0 + s.step;
    SafetensorsFile f = net::to_safetensors(model, cfg);
    f.metadata["format"] = kFormat;
    f.metadata["format_version"] = kVersion;
    nlohmann::json adam_steps = nlohmann::json::object();
    std::size_t i = 0;
    for (const auto& kv : model->named_parameters()) {
        const auto it = adam.state().find(state_key<StateKey>(kv.value()));
        if (it != adam.state().end()) {   // none before the first step
            const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
            f.tensors[kAdamM + kv.key()] = to_named(st.exp_avg());
            f.tensors[kAdamV + kv.key()] = to_named(st.exp_avg_sq());
            adam_steps[kv.key()] = st.step();
        }
        if (average) f.tensors[kAverage + kv.key()] = to_named((*average)[i]);
        ++i;
    }
    const nlohmann::json run = {{"step0", s.step0},
                                {"step", s.step},
                                {"elapsed_min", s.elapsed_min},
                                {"out", s.out},
                                {"out_last", s.out_last},
                                {"saved", s.saved},
                                {"best_sdr_db", s.best_sdr_db},
                                {"rng", rng_text(s.rng)},
                                {"arng", rng_text(s.arng)},
                                {"grng", rng_text(s.grng)},
                                {"crng", rng_text(s.crng)},
                                {"srng", rng_text(s.srng)},
                                {"adam_steps", adam_steps},
                                {"has_average", average != nullptr},
                                {"schedule", s.schedule},
                                {"data", s.data}};
    f.metadata["run"] = run.dump();
    write_safetensors(path, f);
}

bool is_checkpoint(const SafetensorsFile& file) {
    const auto it = file.metadata.find("format");
    return it != file.metadata.end() && it->second == kFormat;
}

}  // namespace loopsep::checkpoint

namespace loopsep {

std::optional<CheckpointRunFiles> checkpoint_run_files(const std::string& path) {
    const SafetensorsFile file = read_safetensors(path);
    if (!checkpoint::is_checkpoint(file)) return std::nullopt;
    const auto run_text = file.metadata.find("run");
    if (run_text == file.metadata.end()) throw input_error(path + ": checkpoint lacks its 'run' metadata");
    try {
        const auto run = nlohmann::json::parse(run_text->second);
        CheckpointRunFiles files;
        files.out = run.at("out").get<std::string>();
        files.out_last_recorded = run.contains("out_last");
        if (files.out_last_recorded) files.out_last = run.at("out_last").get<std::string>();
        return files;
    } catch (const nlohmann::json::exception& e) {
        throw input_error(path + ": checkpoint 'run' metadata is malformed (" + e.what() + ")");
    }
}

}  // namespace loopsep

namespace loopsep::checkpoint {

Checkpoint parse(SafetensorsFile file, const std::string& what) {
    Checkpoint c;
    c.what = what;
    const auto ver = file.metadata.find("format_version");
    if (ver == file.metadata.end() || ver->second != kVersion)
        throw input_error(what + ": unsupported loopsep checkpoint version");
    const auto cfg = file.metadata.find("config"), run_text = file.metadata.find("run");
    if (cfg == file.metadata.end() || run_text == file.metadata.end())
        throw input_error(what + ": checkpoint lacks its 'config' or 'run' metadata");
    c.config = ModelConfig::from_json(cfg->second, what);
    try {
        const auto run = nlohmann::json::parse(run_text->second);
        RunState& s = c.state;
        s.step0 = run.at("step0").get<long>();
        s.step = run.at("step").get<long>();
        s.elapsed_min = run.at("elapsed_min").get<double>();
        s.out = run.at("out").get<std::string>();
        if (run.contains("out_last")) s.out_last = run.at("out_last").get<std::string>();
        s.saved = run.at("saved").get<bool>();
        s.best_sdr_db = run.at("best_sdr_db").get<double>();
        s.rng = rng_from(run, "rng", what);
        s.arng = rng_from(run, "arng", what);
        s.grng = rng_from(run, "grng", what);
        s.crng = rng_from(run, "crng", what);
        if (run.contains("srng")) s.srng = rng_from(run, "srng", what);
        s.schedule = run.at("schedule");
        s.data = run.at("data");
        c.adam_steps = run.at("adam_steps");
        c.has_average = run.at("has_average").get<bool>();
        TrainParams probe;
        apply_schedule(s.schedule, probe);   // every schedule field present and of its type
        if (s.step < 0 || s.step > probe.steps || s.step0 < 0)
            throw input_error(what + ": checkpoint step " + std::to_string(s.step) + " lies outside its schedule");
    } catch (const nlohmann::json::exception& e) {
        throw input_error(what + ": checkpoint 'run' metadata is malformed (" + e.what() + ")");
    }
    c.file = std::move(file);
    return c;
}

net::LoopSepNet load_model(const Checkpoint& c) {
    SafetensorsFile weights;   // the parameters alone: what load_weights checks against the architecture
    for (const auto& [name, t] : c.file.tensors)
        if (name.find('/') == std::string::npos) weights.tensors.emplace(name, t);
    net::LoopSepNet model(c.config);
    net::load_weights(model, weights, c.what);
    return model;
}

void restore_adam(const Checkpoint& c, net::LoopSepNet& model, torch::optim::Adam& adam) {
    for (const auto& kv : model->named_parameters()) {
        if (!c.adam_steps.contains(kv.key())) continue;   // a checkpoint before the first step
        auto st = std::make_unique<torch::optim::AdamParamState>();
        st->step(c.adam_steps.at(kv.key()).get<int64_t>());
        st->exp_avg(tensor_like(c, kAdamM + kv.key(), kv.value()));
        st->exp_avg_sq(tensor_like(c, kAdamV + kv.key(), kv.value()));
        adam.state()[state_key<StateKey>(kv.value())] = std::move(st);
    }
}

void restore_average(const Checkpoint& c, net::LoopSepNet& model, std::vector<torch::Tensor>& average) {
    if (!c.has_average)
        throw input_error(c.what + ": checkpoint holds no weight average, yet its run keeps one (--ema)");
    average.clear();
    for (const auto& kv : model->named_parameters()) average.push_back(tensor_like(c, kAverage + kv.key(), kv.value()));
}

}  // namespace loopsep::checkpoint
