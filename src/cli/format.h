// --format for the container commands: "json" or a small subset of Go's
// text/template evaluated over nlohmann::json, enough for what people pass
// to docker:
//
//   {{.ID}}  {{.State.Status}}  {{.}}        field (nested with dots) / the whole value
//   {{json .Config}}  {{json .}}             compact JSON of a value
//   {{index .Labels "com.example"}}          map/array lookup by key or position
//   {{join .Names ", "}}                     array joined with a separator
//   {{upper .Name}} {{lower .Name}}          case
//   {{len .Mounts}}                          length of an array/object/string
//   "table {{.ID}}\t{{.Names}}"              a table: "\t" separates columns, one
//                                            header line (names from a header map)
//
// A literal "\t" or "\n" typed in the format (backslash + letter) becomes a
// tab / newline, as docker does. Values print like Go's: strings verbatim,
// integral numbers without a decimal point, null as "<no value>", arrays as
// "[a b]", objects as "map[k:v]". A field that does not exist is an error
// ("template: no field \"Foo\" in {{.Foo}}"), not a silent empty string.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"

namespace moor::cli {

class Template {
 public:
  // Parses `format` (without the "table " prefix; see IsTable).
  static Result<Template> Parse(const std::string& format);
  Result<std::string> Render(const nlohmann::json& data) const;
  // The header line: each field action replaced by headers[field path] or,
  // when missing, the path upper-cased ("{{.State.Status}}" → "STATUS").
  std::string RenderHeader(const std::map<std::string, std::string>& headers) const;

 private:
  struct Node {
    bool is_text = true;
    std::string text;               // literal text, or the action source for errors
    std::string func;               // "", "json", "index", "join", "upper", "lower", "len"
    std::vector<std::string> path;  // field path; empty = "."
    std::vector<std::string> args;  // string / number literals after the path
  };
  std::vector<Node> nodes_;
};

// True for "table" / "table …" formats; *rest gets the template after it.
bool IsTableFormat(const std::string& format, std::string* rest);

// Renders rows with a format: "" uses default_format (a table format);
// "json" prints each row as one JSON line; "table …" a column-aligned table
// with a header; anything else one rendered line per row.
Result<std::string> FormatRows(const std::string& format, const std::string& default_format,
                               const std::vector<nlohmann::json>& rows,
                               const std::map<std::string, std::string>& headers);

// Go-style display of a value (see the comment at the top).
std::string GoString(const nlohmann::json& v);

}  // namespace moor::cli
