// loopsep CLI — a small, strict argument parser shared by every subcommand.
//
// Each subcommand declares its options once (name, whether it takes a value,
// help text). Unknown options, missing values and malformed numbers are usage
// errors (exit 2) that name the option. Numbers are range-checked here, when
// parsing, so the rest of the code receives valid values.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace loopsep::cli {

struct OptionSpec {
    std::string name;        // "--genre"
    bool takes_value;        // false for flags like "--json"
    std::string help;        // one line
    std::string value_name = "VALUE";
};

struct CommandSpec {
    std::string name;        // "beats"
    std::string synopsis;    // "SONG [--genre G] [--json]"
    std::string summary;     // one line
    std::vector<OptionSpec> options;
    std::size_t min_positional = 0;
    std::size_t max_positional = 0;  // 0 with min 0: none; use SIZE_MAX for "many"
};

class ParsedArgs {
public:
    std::vector<std::string> positional;

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const;
    std::vector<std::string> all(const std::string& name) const;  // repeated options, in order
    double get_double(const std::string& name, double fallback, double min, double max) const;
    long get_int(const std::string& name, long fallback, long min, long max) const;
    // Required option: usage error if absent.
    std::string require(const std::string& name) const;

private:
    friend ParsedArgs parse_args(const CommandSpec&, const std::vector<std::string>&);
    std::map<std::string, std::vector<std::string>> values_;
};

// Throws loopsep::Error(Usage). Returns with has("--help") true when help was asked.
ParsedArgs parse_args(const CommandSpec& spec, const std::vector<std::string>& argv);
std::string usage_text(const CommandSpec& spec);

// Numbers parsed strictly (whole string); usage error naming `what`.
double parse_double(const std::string& text, const std::string& what, double min, double max);
long parse_int(const std::string& text, const std::string& what, long min, long max);
std::vector<std::string> split_list(const std::string& text, char sep = ',');
// Target / instrument names become file and folder names: letters, digits, '_' and '-' only
// (no '/', no '..'), at most 64 characters. Usage error naming `option` and the value otherwise.
void check_identifier(const std::string& value, const std::string& option);

}  // namespace loopsep::cli
