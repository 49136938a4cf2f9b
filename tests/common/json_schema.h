// A JSON Schema validator for the subset loopsep's schemas use (docs/*.schema.json): type (one or a
// list), required, properties, items, enum, and "$ref": "#/$defs/NAME". Anything else in a schema
// is ignored. Returns one line per violation, naming where it is ("$.songs[0].targets[1].level_dbfs").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace loopsep::testing {

inline bool json_has_type(const nlohmann::json& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    return false;
}

inline void validate_json(const nlohmann::json& root_schema, const nlohmann::json& schema, const nlohmann::json& v,
                          const std::string& where, std::vector<std::string>& errors) {
    if (schema.contains("$ref")) {
        const std::string ref = schema["$ref"];
        const std::string prefix = "#/$defs/";
        if (ref.rfind(prefix, 0) != 0 || !root_schema["$defs"].contains(ref.substr(prefix.size()))) {
            errors.push_back(where + ": unresolvable $ref " + ref);
            return;
        }
        validate_json(root_schema, root_schema["$defs"][ref.substr(prefix.size())], v, where, errors);
        return;
    }
    if (schema.contains("type")) {
        std::vector<std::string> types;
        if (schema["type"].is_array())
            for (const auto& t : schema["type"]) types.push_back(t);
        else
            types.push_back(schema["type"]);
        bool ok = false;
        for (const auto& t : types) ok = ok || json_has_type(v, t);
        if (!ok) {
            errors.push_back(where + ": expected type " + schema["type"].dump() + ", got " + v.type_name());
            return;
        }
    }
    if (schema.contains("enum")) {
        bool found = false;
        for (const auto& e : schema["enum"]) found = found || e == v;
        if (!found) errors.push_back(where + ": " + v.dump() + " is not one of " + schema["enum"].dump());
    }
    if (v.is_object()) {
        if (schema.contains("required"))
            for (const auto& key : schema["required"])
                if (!v.contains(key.get<std::string>())) errors.push_back(where + ": missing required \"" + key.get<std::string>() + "\"");
        if (schema.contains("properties"))
            for (const auto& [key, sub] : schema["properties"].items())
                if (v.contains(key)) validate_json(root_schema, sub, v[key], where + "." + key, errors);
    }
    if (v.is_array() && schema.contains("items"))
        for (std::size_t i = 0; i < v.size(); ++i)
            validate_json(root_schema, schema["items"], v[i], where + "[" + std::to_string(i) + "]", errors);
}

inline std::vector<std::string> validate_json(const nlohmann::json& schema, const nlohmann::json& value) {
    std::vector<std::string> errors;
    validate_json(schema, schema, value, "$", errors);
    return errors;
}

}  // namespace loopsep::testing
