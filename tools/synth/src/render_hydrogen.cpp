// Hydrogen drum kits (see render.h): real multi-sampled recordings — acoustic
// kits with velocity layers, electronic kits, West-African hand drums — read
// from their drumkit.xml with a small parser of our own (the files use only
// elements, text, entities, comments and declarations; no new dependency).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "loopsep/error.h"
#include "render.h"
#include "reserved.h"

namespace loopsep::synth {
namespace {

namespace fs = std::filesystem;

// ---- a minimal XML reader: elements and their text, attributes skipped ----

struct XmlNode {
    std::string tag, text;
    std::vector<XmlNode> children;
    const XmlNode* child(const std::string& t) const {
        for (const auto& c : children)
            if (c.tag == t) return &c;
        return nullptr;
    }
};

class XmlReader {
public:
    XmlReader(const std::string& src, std::string path) : s_(src), path_(std::move(path)) {}

    XmlNode document() {
        if (s_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // UTF-8 byte order mark
        skip_misc();
        if (pos_ >= s_.size() || s_[pos_] != '<') fail("no root element");
        XmlNode root = element();
        skip_misc();
        if (pos_ != s_.size()) fail("content after the root element");
        return root;
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw input_error(path_ + ": malformed XML (" + why + " at byte " + std::to_string(pos_) + ")");
    }
    bool at(const char* lit) const { return s_.compare(pos_, std::char_traits<char>::length(lit), lit) == 0; }
    void skip_past(const char* lit) {
        const std::size_t e = s_.find(lit, pos_);
        if (e == std::string::npos) fail(std::string("unterminated, no '") + lit + "'");
        pos_ = e + std::char_traits<char>::length(lit);
    }
    // Whitespace, comments, <?...?> and <!DOCTYPE ...> between elements.
    void skip_misc() {
        while (pos_ < s_.size()) {
            if (std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
            else if (at("<?")) skip_past("?>");
            else if (at("<!--")) skip_past("-->");
            else if (at("<!DOCTYPE")) skip_past(">");
            else break;
        }
    }
    std::string name() {
        const std::size_t b = pos_;
        while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                                    s_[pos_] == '-' || s_[pos_] == '.' || s_[pos_] == ':'))
            ++pos_;
        if (pos_ == b) fail("expected a tag name");
        return s_.substr(b, pos_ - b);
    }
    void entity(std::string& out) {
        const std::size_t e = s_.find(';', pos_);
        if (e == std::string::npos || e - pos_ > 10) fail("bad entity");
        const std::string ent = s_.substr(pos_ + 1, e - pos_ - 1);
        pos_ = e + 1;
        if (ent == "lt") out += '<';
        else if (ent == "gt") out += '>';
        else if (ent == "amp") out += '&';
        else if (ent == "quot") out += '"';
        else if (ent == "apos") out += '\'';
        else if (ent.size() > 1 && ent[0] == '#') {
            const long code = ent[1] == 'x' ? std::strtol(ent.c_str() + 2, nullptr, 16) : std::strtol(ent.c_str() + 1, nullptr, 10);
            if (code > 0 && code < 128) out += char(code);
            else out += '?';  // names and file names here are ASCII; others only label
        } else {
            fail("unknown entity &" + ent + ";");
        }
    }
    XmlNode element() {
        ++pos_;  // '<'
        XmlNode node;
        node.tag = name();
        // Attributes: skipped, quoted values may hold '>' or '/'.
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated tag <" + node.tag + ">");
            const char c = s_[pos_];
            if (c == '"' || c == '\'') {
                const std::size_t e = s_.find(c, pos_ + 1);
                if (e == std::string::npos) fail("unterminated attribute value");
                pos_ = e + 1;
            } else if (c == '/') {
                if (!at("/>")) fail("stray '/' in <" + node.tag + ">");
                pos_ += 2;
                return node;
            } else if (c == '>') {
                ++pos_;
                break;
            } else if (c == '<') {
                fail("'<' inside tag <" + node.tag + ">");
            } else {
                ++pos_;
            }
        }
        while (true) {
            if (pos_ >= s_.size()) fail("<" + node.tag + "> is never closed");
            if (at("</")) {
                pos_ += 2;
                const std::string closing = name();
                if (closing != node.tag) fail("</" + closing + "> closes <" + node.tag + ">");
                while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
                if (pos_ >= s_.size() || s_[pos_] != '>') fail("unterminated </" + closing);
                ++pos_;
                return node;
            }
            if (at("<!--")) skip_past("-->");
            else if (at("<![CDATA[")) {
                const std::size_t b = pos_ + 9;
                skip_past("]]>");
                node.text += s_.substr(b, pos_ - 3 - b);
            } else if (at("<?")) skip_past("?>");
            else if (s_[pos_] == '<') node.children.push_back(element());
            else if (s_[pos_] == '&') entity(node.text);
            else node.text += s_[pos_++];
        }
    }

    const std::string& s_;
    std::string path_;
    std::size_t pos_ = 0;
};

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

double number(const XmlNode& parent, const char* tag, double fallback, const std::string& path) {
    const XmlNode* n = parent.child(tag);
    if (!n) return fallback;
    const std::string t = trim(n->text);
    if (t.empty()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (end == t.c_str() || *end != '\0' || !std::isfinite(v))
        throw input_error(path + ": <" + std::string(tag) + "> is not a number ('" + t + "')");
    return v;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

// ---- instruments to roles, by name ----

bool has(const std::string& s, const char* w) { return s.find(w) != std::string::npos; }
// `w` as a whole word (VariBreaks: "Hat 1 Cl", "Hat 1 Op", "Hat 1 Pd").
bool word(const std::string& s, const std::string& w) {
    std::istringstream in(s);
    std::string t;
    while (in >> t)
        if (t == w) return true;
    return false;
}

// The drum voice an instrument plays, from its name; "" for names that say
// nothing usable ("23", "redo super opaco", "Sample: beats_01-39.flac", "Zap 1").
std::string classify(const std::string& instrument_name) {
    const std::string n = lower(instrument_name);
    if (has(n, "cowbell") || has(n, "cow bell") || has(n, "agogo")) return "cowbell";
    if (has(n, "tambourine") || has(n, "shaker") || has(n, "maraca") || has(n, "cabasa") || has(n, "guiro"))
        return "shaker";
    if (has(n, "bell")) return has(n, "ride") ? "ride" : "";  // the dunun bells are struck iron, no role
    for (const char* h : {"djembe", "conga", "bongo", "sangban", "dunun", "kenkeni", "cajon", "timbale"})
        if (has(n, h)) return "hand";
    if (has(n, "kick") || has(n, "bassdrum") || has(n, "bass drum")) return "kick";
    if (has(n, "clap")) return "clap";
    if (has(n, "snare")) return has(n, "roll") ? "" : "snare";
    if (has(n, "rim") || has(n, "stick")) return "rim";
    if (has(n, "hh") || has(n, "hat")) {
        if (has(n, "choke") || has(n, "swish") || has(n, "free") || has(n, "side")) return "";
        if (has(n, "open") || has(n, "semi") || word(n, "op")) return "hat_open";
        if (has(n, "pedal") || has(n, "foot") || word(n, "pd")) return "hat_pedal";
        return "hat_closed";
    }
    if (has(n, "tom")) return "tom";
    if (has(n, "crash") || has(n, "splash") || has(n, "china") || has(n, "cymbal")) return "crash";
    if (has(n, "ride")) return "ride";
    return "";
}

// The voice classes a GM drum key asks for, best first.
std::vector<std::string> classes_for_key(int key) {
    switch (key) {
    case 35: case 36: return {"kick"};
    case 38: case 40: return {"snare"};
    case 37: return {"rim", "snare"};
    case 39: return {"clap", "rim", "snare"};
    case 42: return {"hat_closed", "hat_pedal"};
    case 44: return {"hat_pedal", "hat_closed"};
    case 46: return {"hat_open", "hat_closed"};
    case 41: case 43: case 45: case 47: case 48: case 50: return {"tom"};
    case 49: case 52: case 55: case 57: return {"crash", "ride"};
    case 51: case 53: case 59: return {"ride", "crash"};
    case 56: return {"cowbell"};
    case 54: case 69: case 70: case 82: return {"shaker"};
    default: return {};
    }
}

// A sample, stereo or mono, at the output rate, re-pitched by `ratio`: one
// resampling from the file's own rate (a sinc pass is most of the cost here).
Audio load_sample(const std::string& path, double ratio, int sr_hz) {
    check_not_reserved(path);
    ReadOptions o;
    o.target_rate_hz = 0;
    o.allow_silent = true;
    Audio a = read_audio(path, o);
    // Resampling to sr/ratio and playing at sr raises the pitch by `ratio`.
    const int rate = int(std::lround(sr_hz / ratio));
    if (rate != a.sample_rate_hz) a = resample(a, rate);
    a.sample_rate_hz = sr_hz;
    return a;
}

// Zero crossings per sample of the first 100 ms: which of two drums is the high one.
double crossing_rate(const Audio& a) {
    const auto& x = a.channels[0];
    const std::size_t n = std::min<std::size_t>(x.size(), std::size_t(a.sample_rate_hz / 10));
    std::size_t z = 0;
    for (std::size_t i = 1; i < n; ++i) z += (x[i - 1] < 0) != (x[i] < 0);
    return n > 1 ? double(z) / double(n) : 0.0;
}

}  // namespace

HydrogenKit read_hydrogen_kit(const std::string& kit_dir) {
    const std::string path = (fs::path(kit_dir) / "drumkit.xml").string();
    check_not_reserved(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open the Hydrogen kit (run tools/install-deps.sh)");
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string src = buf.str();
    const XmlNode root = XmlReader(src, path).document();
    if (root.tag != "drumkit_info") throw input_error(path + ": not a Hydrogen drumkit (root <" + root.tag + ">)");
    const XmlNode* list = root.child("instrumentList");
    if (!list) throw input_error(path + ": no <instrumentList>");
    HydrogenKit kit;
    kit.dir = kit_dir;
    kit.name = root.child("name") ? trim(root.child("name")->text) : fs::path(kit_dir).filename().string();
    for (const auto& node : list->children) {
        if (node.tag != "instrument") continue;
        HydrogenInstrument ins;
        ins.id = int(number(node, "id", 0, path));
        ins.name = node.child("name") ? trim(node.child("name")->text) : "";
        ins.gain = number(node, "gain", 1.0, path);
        ins.volume = number(node, "volume", 1.0, path);
        ins.pan_l = number(node, "pan_L", 1.0, path);
        ins.pan_r = number(node, "pan_R", 1.0, path);
        auto add_layer = [&](const XmlNode& l, bool old_format) {
            const XmlNode* f = old_format ? &l : l.child("filename");
            if (!f || trim(f->text).empty()) return;
            HydrogenLayer layer;
            layer.file = (fs::path(kit_dir) / trim(f->text)).string();
            if (!old_format) {
                layer.min = number(l, "min", 0.0, path);
                layer.max = number(l, "max", 1.0, path);
                layer.gain = number(l, "gain", 1.0, path);
                layer.pitch = number(l, "pitch", 0.0, path);
            }
            // Some kits name files they do not ship (ColomboAcousticDrumkit): such a layer is left out.
            if (fs::is_regular_file(layer.file)) ins.layers.push_back(layer);
        };
        for (const auto& c : node.children) {
            if (c.tag == "layer") add_layer(c, false);
            if (c.tag == "instrumentComponent")  // Hydrogen >= 0.9.7 nests the layers one level deeper
                for (const auto& l : c.children)
                    if (l.tag == "layer") add_layer(l, false);
        }
        if (ins.layers.empty())
            if (const XmlNode* f = node.child("filename")) add_layer(*f, true);
        if (!ins.layers.empty()) kit.instruments.push_back(std::move(ins));
    }
    return kit;
}

const HydrogenLayer& choose_layer(const HydrogenInstrument& ins, int velocity) {
    const double v = std::clamp(velocity, 0, 127) / 127.0;
    const HydrogenLayer* best = &ins.layers.front();
    double best_dist = 1e9;
    for (const auto& l : ins.layers) {
        if (v >= l.min && v <= l.max) return l;
        const double d = v < l.min ? l.min - v : v - l.max;
        if (d < best_dist) best_dist = d, best = &l;
    }
    return *best;
}

Audio render_hydrogen(const Part& part, const Song& song, const std::string& drumkits_dir, int sr_hz,
                      std::size_t frames, std::string& label) {
    const HydrogenKit kit = read_hydrogen_kit((fs::path(drumkits_dir) / part.source.file).string());
    std::map<std::string, std::vector<const HydrogenInstrument*>> by_class;
    for (const auto& ins : kit.instruments) {
        const std::string c = classify(ins.name);
        if (!c.empty()) by_class[c].push_back(&ins);
    }
    Rng rng(part.source.variant);
    const std::string& role = part.role;
    // Hand drums and percussion are tuned a little per part (a different drum
    // of the same family); kit drums keep their recorded pitch.
    const bool percussion = role == "bongo" || role == "guira" || role == "cowbell";
    const double tuning = percussion ? std::pow(2.0, rng.uniform(-2.0, 2.0) / 12.0) : 1.0;

    // Key -> instrument.
    std::map<int, const HydrogenInstrument*> by_key;
    std::map<std::string, const HydrogenInstrument*> chosen;  // one instrument per class
    auto pick_class = [&](const std::string& c) -> const HydrogenInstrument* {
        auto it = chosen.find(c);
        if (it != chosen.end()) return it->second;
        auto found = by_class.find(c);
        const HydrogenInstrument* ins = found == by_class.end() ? nullptr : rng.pick(found->second);
        chosen[c] = ins;
        return ins;
    };
    std::map<std::string, Audio> cache;
    auto sample = [&](const HydrogenLayer& l) -> const Audio& {
        const double ratio = tuning * std::pow(2.0, l.pitch / 12.0);
        const std::string k = l.file + "@" + std::to_string(ratio);
        auto it = cache.find(k);
        if (it == cache.end()) it = cache.emplace(k, load_sample(l.file, ratio, sr_hz)).first;
        return it->second;
    };
    if (role == "bongo") {
        // Two hand drums (or one, the low key a fourth down): the one with the
        // higher crossing rate plays the high part (keys 60/62/63), the other the low (61/64).
        const auto it = by_class.find("hand");
        if (it == by_class.end()) throw input_error(kit.dir + ": no hand drums for the bongo part");
        std::vector<const HydrogenInstrument*> hands = it->second;
        const HydrogenInstrument* a = rng.pick(hands);
        hands.erase(std::find(hands.begin(), hands.end(), a));
        const HydrogenInstrument* b = hands.empty() ? a : rng.pick(hands);
        if (a != b && crossing_rate(sample(a->layers.back())) < crossing_rate(sample(b->layers.back()))) std::swap(a, b);
        for (int k : {60, 62, 63}) by_key[k] = a;
        for (int k : {61, 64}) by_key[k] = b;
    } else if (role == "guira") {
        const auto it = by_class.find("shaker");
        if (it == by_class.end()) throw input_error(kit.dir + ": no shaker or tambourine for the guira part");
        for (int k : {74, 73}) by_key[k] = rng.pick(it->second);
    } else {
        for (const auto& n : part.notes) {
            if (by_key.count(n.key)) continue;
            const HydrogenInstrument* ins = nullptr;
            for (const auto& c : classes_for_key(n.key))
                if ((ins = pick_class(c))) break;
            by_key[n.key] = ins;
        }
    }
    label = "hydrogen:" + part.source.file + ":";  // the folder: the name the pools and TRAINING.md use
    std::vector<const HydrogenInstrument*> named;
    for (const auto& [key, ins] : by_key)
        if (ins && std::find(named.begin(), named.end(), ins) == named.end()) {
            named.push_back(ins);
            label += " " + ins->name + ";";
        }
    if (named.empty()) throw input_error(kit.dir + ": no instrument for the keys of this " + role + " part");
    if (percussion) label += " tuned x" + std::to_string(tuning).substr(0, 5);

    Audio out(2, frames, sr_hz);
    // A closed hat chokes the open one, as on a real kit.
    std::vector<std::size_t> closed_hats;
    for (const auto& n : part.notes)
        if (n.key == 42 || n.key == 44) closed_hats.push_back(onset_frame(song, n.beat, n.offset_sec, sr_hz));
    std::sort(closed_hats.begin(), closed_hats.end());
    Rng timing = rng.fork(1);
    for (const auto& n : part.notes) {
        const auto it = by_key.find(n.key);
        if (it == by_key.end() || !it->second) continue;
        const HydrogenInstrument& ins = *it->second;
        const HydrogenLayer& layer = choose_layer(ins, n.velocity);
        const Audio& a = sample(layer);
        // A player's own small timing on top of the composer's (σ 3 ms, within ±6 ms).
        const double human_sec = std::clamp(timing.normal(0.0, 0.003), -0.006, 0.006);
        const std::size_t at = onset_frame(song, n.beat, n.offset_sec + human_sec, sr_hz);
        std::size_t len = a.frames();
        if (n.key == 46) {
            const auto next = std::upper_bound(closed_hats.begin(), closed_hats.end(), at);
            if (next != closed_hats.end()) len = std::min(len, *next - at);
        }
        // Güira strokes are as long as the composer's gate: a long scrape, a short one.
        if (role == "guira") {
            const std::size_t gate = onset_frame(song, n.beat + n.dur_beats, n.offset_sec, sr_hz);
            len = std::min(len, std::max<std::size_t>(gate > at ? gate - at : 0, std::size_t(sr_hz / 50)));
        }
        const float g = float(ins.gain * ins.volume * layer.gain * n.velocity / 127.0);
        const float pans[2] = {float(ins.pan_l), float(ins.pan_r)};
        const std::size_t fade = std::min<std::size_t>(len, std::size_t(sr_hz / 100));  // 10 ms
        for (int c = 0; c < 2; ++c) {
            const auto& src = a.channels[std::size_t(std::min(c, a.num_channels() - 1))];
            auto& dst = out.channels[std::size_t(c)];
            for (std::size_t s = 0; s < len && at + s < frames; ++s) {
                const float f = s + fade >= len ? float(len - s) / float(fade) : 1.0f;
                dst[at + s] += g * pans[c] * f * src[s];
            }
        }
    }
    return out;
}

}  // namespace loopsep::synth
