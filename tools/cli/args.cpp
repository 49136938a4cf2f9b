#include "args.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "loopsep/error.h"

namespace loopsep::cli {

namespace {
const OptionSpec* find_option(const CommandSpec& spec, const std::string& name) {
    for (const auto& o : spec.options)
        if (o.name == name) return &o;
    return nullptr;
}

std::string format_range(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}
}  // namespace

double parse_double(const std::string& text, const std::string& what, double min, double max) {
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(v))
        throw usage_error(what + " must be a number (got '" + text + "')");
    if (v < min || v > max)
        throw usage_error(what + " must be in " + format_range(min) + ".." + format_range(max) + " (got " + text + ")");
    return v;
}

long parse_int(const std::string& text, const std::string& what, long min, long max) {
    errno = 0;
    char* end = nullptr;
    long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0)
        throw usage_error(what + " must be a whole number (got '" + text + "')");
    if (v < min || v > max)
        throw usage_error(what + " must be in " + std::to_string(min) + ".." + std::to_string(max) + " (got " + text + ")");
    return v;
}

std::vector<std::string> split_list(const std::string& text, char sep) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(text);
    while (std::getline(in, item, sep))
        if (!item.empty()) out.push_back(item);
    return out;
}

void check_identifier(const std::string& value, const std::string& option) {
    const bool ok = !value.empty() && value.size() <= 64 &&
                    std::all_of(value.begin(), value.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
                    });
    if (!ok)
        throw usage_error(option + ": '" + value + "' is not a valid name (letters, digits, '_' and '-' only)");
}

std::string ParsedArgs::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> ParsedArgs::all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

double ParsedArgs::get_double(const std::string& name, double fallback, double min, double max) const {
    return has(name) ? parse_double(get(name), name, min, max) : fallback;
}

long ParsedArgs::get_int(const std::string& name, long fallback, long min, long max) const {
    return has(name) ? parse_int(get(name), name, min, max) : fallback;
}

std::string ParsedArgs::require(const std::string& name) const {
    if (!has(name)) throw usage_error("missing required option " + name);
    return get(name);
}

ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& argv) {
    ParsedArgs out;
    bool options_done = false;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
            out.positional.push_back(a);
            continue;
        }
        if (a == "--") { options_done = true; continue; }
        if (a == "-h" || a == "--help") { out.values_["--help"].push_back(""); return out; }
        std::string name = a, value;
        bool inline_value = false;
        if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            inline_value = true;
        }
        const OptionSpec* o = find_option(spec, name);
        if (!o) throw usage_error("loopsep " + spec.name + ": unknown option " + name + " (see loopsep " + spec.name + " --help)");
        if (o->takes_value) {
            if (!inline_value) {
                // "--to-bpm --output x": the next word is another option, not this one's value.
                if (i + 1 >= argv.size() || (argv[i + 1].rfind("--", 0) == 0 &&
                                             (find_option(spec, argv[i + 1].substr(0, argv[i + 1].find('='))) ||
                                              argv[i + 1] == "--help")))
                    throw usage_error(name + " needs a value");
                value = argv[++i];
            }
            out.values_[name].push_back(value);
        } else {
            if (inline_value) throw usage_error("option " + name + " takes no value");
            out.values_[name].push_back("");
        }
    }
    // Errors are one line: a synopsis wrapped for --help is joined back.
    std::string synopsis;
    for (char c : spec.synopsis)
        if (c != '\n') synopsis += c;
        else while (!synopsis.empty() && synopsis.back() == ' ') synopsis.pop_back();
    for (std::size_t p; (p = synopsis.find("  ")) != std::string::npos;) synopsis.erase(p, 1);
    if (out.positional.size() < spec.min_positional)
        throw usage_error("loopsep " + spec.name + ": missing argument (usage: loopsep " + spec.name + " " + synopsis + ")");
    if (out.positional.size() > spec.max_positional)
        throw usage_error("loopsep " + spec.name + ": unexpected argument '" + out.positional[spec.max_positional] +
                          "' (usage: loopsep " + spec.name + " " + synopsis + ")");
    return out;
}

std::string usage_text(const CommandSpec& spec) {
    std::ostringstream s;
    s << "usage: loopsep " << spec.name << " " << spec.synopsis << "\n\n" << spec.summary << "\n";
    if (!spec.options.empty()) s << "\noptions:\n";
    for (const auto& o : spec.options) {
        std::string left = "  " + o.name + (o.takes_value ? " " + o.value_name : "");
        if (left.size() < 26) left.resize(26, ' ');
        else left += "  ";
        s << left << o.help << "\n";
    }
    return s.str();
}

}  // namespace loopsep::cli
