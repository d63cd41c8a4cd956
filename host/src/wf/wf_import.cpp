// SPDX-License-Identifier: Apache-2.0
#include "wf/wf_import.hpp"

#include <blueprint/json_limits.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace blueprint::wf {

namespace fs = std::filesystem;

// ---- the mapping table ----

const std::vector<TypeMapping>& typeMappings() {
  static const std::vector<TypeMapping> kTable = {
      {"blueprints_apitrigger",
       "api_trigger",
       {{"defaultResult", "default_result"}},
       {{"trigger", "trigger"}}},
      // A UI event trigger becomes the API trigger: a headless host starts runs only over its API
      // (its UI binding, refComponentId/refEventType, is left out with a note).
      {"blueprints_uieventtrigger",
       "api_trigger",
       {{"defaultResult", "default_result"}},
       {{"trigger", "trigger"}}},
      {"blueprints_returnvalue",
       "return_value",
       {{"value", "value"}},
       {{"success", "success"}, {"error", "error"}}},
      {"blueprints_setstate",
       "set_state",
       {{"element", "key"}, {"value", "value"}, {"valueType", "value_type"}},
       {{"success", "success"}, {"error", "error"}}},
      {"blueprints_addtostatelist",
       "add_to_state_list",
       {{"element", "key"}, {"value", "value"}},
       {{"success", "success"}, {"error", "error"}}},
      {"blueprints_logmessage",
       "log_message",
       {{"type", "level"}, {"message", "message"}},
       {{"success", "success"}, {"error", "error"}}},
      {"blueprints_parsejson",
       "parse_json",
       {{"plainText", "text"}},
       {{"success", "success"}, {"error", "error"}}},
      {"blueprints_httprequest",
       "http_request",
       {{"method", "method"}, {"url", "url"}, {"headers", "headers"}, {"body", "body"}},
       {{"success", "success"},
        {"responseError", "response_error"},
        {"connectionError", "connection_error"}}},
      {"blueprints_runblueprint",
       "run_blueprint",
       {{"blueprintKey", "blueprint_id"}, {"payload", "payload"}},
       {{"success", "success"}, {"error", "error"}}},
      {"blueprints_foreach",
       "for_each",
       {{"items", "items"}, {"prefix", "prefix"}},
       {{"loop", "loop"}, {"success", "success"}, {"error", "error"}}},
      // Only the code `set_outcome(<expression>)` translates (see translateIfElseCode).
      {"blueprints_ifelse",
       "if_else",
       {{"code", "condition"}},
       {{"true", "true"}, {"false", "false"}, {"error", "error"}}},
  };
  return kTable;
}

namespace {

const TypeMapping* findMapping(const std::string& wf_type) {
  for (const auto& m : typeMappings())
    if (m.wf_type == wf_type) return &m;
  return nullptr;
}

/// Why a WF block type without a mapping cannot run here.
std::string refusalReason(const std::string& wf_type) {
  if (wf_type.rfind("blueprints_writer", 0) == 0)
    return "needs Writer's cloud (its models, knowledge graphs, files or storage); no block here "
           "stands in for it";
  if (wf_type == "blueprints_code") return "runs Python code; this host has no Python interpreter";
  if (wf_type == "blueprints_calleventhandler")
    return "calls a Python event handler of the app; this host has no Python interpreter";
  if (wf_type == "blueprints_changepage")
    return "changes the page of the app's UI; a run on this host has no UI";
  if (wf_type == "blueprints_crontrigger")
    return "is a schedule trigger; this host starts runs only through its API";
  return "is not a block type this host knows (no mapping for it)";
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool isIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

// ---- templates ----

const std::set<std::string>& environmentNames() {
  static const std::set<std::string> kNames = {"result", "results", "payload", "message",
                                               "item",   "itemId",  "context", "session"};
  return kNames;
}

bool isEnvironmentName(const std::string& head, const std::vector<std::string>& prefixes) {
  if (environmentNames().count(head) > 0) return true;
  for (const auto& p : prefixes)
    if (!p.empty() && (head == p + "_item" || head == p + "_itemId")) return true;
  return false;
}

/// `a[0]["k"]['j']` → `a.0.k.j`; anything else is left as it is.
std::string bracketsToDots(const std::string& path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '[') {
      out += path[i];
      continue;
    }
    const auto close = path.find(']', i);
    if (close == std::string::npos) {
      out += path.substr(i);
      break;
    }
    std::string key = trim(path.substr(i + 1, close - i - 1));
    if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front())
      key = key.substr(1, key.size() - 2);
    out += "." + key;
    i = close;
  }
  return out;
}

std::string rewritePath(const std::string& inner, const std::vector<std::string>& prefixes) {
  const std::string path = bracketsToDots(trim(inner));
  if (path.empty()) return inner;
  const auto dot = path.find('.');
  const std::string head = path.substr(0, dot);
  if (head.empty() || head[0] == '$' || isEnvironmentName(head, prefixes)) return path;
  if (head == "vault" && dot != std::string::npos) return "$" + path.substr(dot + 1);
  return "state." + path;
}

/// Heads of the `@{…}` paths in `text` (after rewriting), for notes.
std::vector<std::string> templateHeads(const std::string& text) {
  std::vector<std::string> heads;
  for (std::size_t i = 0; (i = text.find("@{", i)) != std::string::npos; i += 2) {
    if (i > 0 && text[i - 1] == '\\') continue;
    const auto close = text.find('}', i + 2);
    if (close == std::string::npos) break;
    const std::string path = trim(text.substr(i + 2, close - i - 2));
    heads.push_back(path.substr(0, path.find('.')));
  }
  return heads;
}

// ---- if-else: Python `set_outcome(<expression>)` → the if_else expression language ----

struct PyToken {
  enum Kind { Name, Number, String, Op, LParen, RParen, LBracket, RBracket, Dot, Comma, End } kind;
  std::string text;
};

/// Tokenizes a small Python subset; returns false (with `why`) on anything else.
bool tokenizePython(const std::string& code, std::vector<PyToken>& out, std::string& why) {
  std::size_t i = 0;
  const std::size_t n = code.size();
  while (i < n) {
    const char c = code[i];
    if (c == '#') {
      while (i < n && code[i] != '\n') ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '"' || c == '\'') {
      std::size_t j = i + 1;
      while (j < n && code[j] != c) {
        if (code[j] == '\\') ++j;
        if (j < n && code[j] == '\n') break;
        ++j;
      }
      if (j >= n || code[j] != c) {
        why = "an unterminated string";
        return false;
      }
      out.push_back({PyToken::String, code.substr(i, j - i + 1)});
      i = j + 1;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i;
      while (j < n && (std::isdigit(static_cast<unsigned char>(code[j])) || code[j] == '.')) ++j;
      out.push_back({PyToken::Number, code.substr(i, j - i)});
      i = j;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < n && (std::isalnum(static_cast<unsigned char>(code[j])) || code[j] == '_')) ++j;
      out.push_back({PyToken::Name, code.substr(i, j - i)});
      i = j;
      continue;
    }
    const std::string two = code.substr(i, 2);
    if (two == "==" || two == "!=" || two == "<=" || two == ">=") {
      out.push_back({PyToken::Op, two});
      i += 2;
      continue;
    }
    switch (c) {
      case '<':
      case '>':
      case '-':
        out.push_back({PyToken::Op, std::string(1, c)});
        break;
      case '(':
        out.push_back({PyToken::LParen, "("});
        break;
      case ')':
        out.push_back({PyToken::RParen, ")"});
        break;
      case '[':
        out.push_back({PyToken::LBracket, "["});
        break;
      case ']':
        out.push_back({PyToken::RBracket, "]"});
        break;
      case '.':
        out.push_back({PyToken::Dot, "."});
        break;
      case ',':
        out.push_back({PyToken::Comma, ","});
        break;
      default:
        why = std::string("the character '") + c + "'";
        return false;
    }
    ++i;
  }
  out.push_back({PyToken::End, ""});
  return true;
}

/// The condition for if_else, or nullopt-like empty string with `why` set.
std::string translateIfElseCode(const std::string& code, const std::vector<std::string>& prefixes,
                                std::string& why) {
  std::vector<PyToken> t;
  if (!tokenizePython(code, t, why)) return "";
  if (t.size() < 4 || t[0].kind != PyToken::Name || t[0].text != "set_outcome" ||
      t[1].kind != PyToken::LParen || t[t.size() - 2].kind != PyToken::RParen) {
    why = "it is not one `set_outcome(<expression>)` call";
    return "";
  }
  static const std::set<std::string> kWords = {"and", "or", "not", "in", "True", "False", "None"};
  std::string expr;
  int depth = 0;
  auto add = [&expr](const std::string& s) {
    if (!expr.empty() && expr.back() != '(' && s != ")") expr += ' ';
    expr += s;
  };
  for (std::size_t i = 2; i + 2 < t.size(); ++i) {
    const PyToken& tok = t[i];
    switch (tok.kind) {
      case PyToken::Number:
      case PyToken::String:
        add(tok.text);
        break;
      case PyToken::Op:
        if (tok.text == "-") {
          if (t[i + 1].kind != PyToken::Number) {
            why = "it uses arithmetic";
            return "";
          }
          add("-" + t[++i].text);
        } else {
          add(tok.text);
        }
        break;
      case PyToken::LParen:
        ++depth;
        add("(");
        break;
      case PyToken::RParen:
        if (--depth < 0) {
          why = "its parentheses do not match";
          return "";
        }
        add(")");
        break;
      case PyToken::Name: {
        if (kWords.count(tok.text) > 0) {
          add(tok.text);
          break;
        }
        if (tok.text != "state" && !isEnvironmentName(tok.text, prefixes)) {
          why = "it reads '" + tok.text + "', which is not state or the execution environment";
          return "";
        }
        std::string path = tok.text;
        while (t[i + 1].kind == PyToken::LBracket) {
          const PyToken& key = t[i + 2];
          if ((key.kind != PyToken::String && key.kind != PyToken::Number) ||
              t[i + 3].kind != PyToken::RBracket) {
            why = "it indexes with something other than a constant";
            return "";
          }
          std::string k =
              key.kind == PyToken::String ? key.text.substr(1, key.text.size() - 2) : key.text;
          if (k.empty() || k.find_first_of(". \\'\"") != std::string::npos) {
            why = "it indexes with the key " + key.text + ", which is not a plain path segment";
            return "";
          }
          path += "." + k;
          i += 3;
        }
        if (t[i + 1].kind == PyToken::LParen || t[i + 1].kind == PyToken::Dot) {
          why = "it calls functions or methods";
          return "";
        }
        add(path);
        break;
      }
      default:
        why = "it uses '" + tok.text + "'";
        return "";
    }
  }
  if (depth != 0) {
    why = "its parentheses do not match";
    return "";
  }
  if (trim(expr).empty()) {
    why = "set_outcome() has no argument";
    return "";
  }
  return expr;
}

// ---- components ----

struct Component {
  std::string file;
  long line = 0;
  std::string id;
  std::string type;
  std::string parent;
  Json content = Json::object();
  std::vector<std::pair<std::string, std::string>> outs;  // (outId, toNodeId)
  double position = 0;
  std::size_t order = 0;
};

/// `content[name]` when it is a string, else `fallback` (WF files are not trusted to hold the
/// types they should).
std::string textField(const Json& content, const char* name, const std::string& fallback = "") {
  auto it = content.find(name);
  return it != content.end() && it->is_string() ? it->get<std::string>() : fallback;
}

class Importer {
 public:
  explicit Importer(std::string agent_id) : agent_id_(std::move(agent_id)) {}

  void readFile(const std::string& file, const std::string& text) {
    std::istringstream in(text);
    std::string line;
    long number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (trim(line).empty()) continue;
      // Bounded: a component nested 200,000 levels deep would overflow the stack of the first
      // copy of it (issue 11, L8).
      JsonParse parsed = parseJsonLimited(line);
      if (parsed.status == JsonParse::Status::TooDeep) {
        issue(file, number, "", "", "is not usable JSON: " + parsed.error);
        continue;
      }
      if (!parsed.ok()) {
        issue(file, number, "", "", "is not valid JSON (one component per line is expected)");
        continue;
      }
      const Json j = std::move(parsed.value);
      if (!j.is_object()) {
        issue(file, number, "", "", "is not a JSON object");
        continue;
      }
      readComponent(file, number, j);
    }
  }

  ImportResult finish(const std::string& source) {
    if (!any_file_)
      issue(source, 0, "", "",
            "holds no Writer Framework component files "
            "(.wf/components-*.jsonl)");
    ImportResult result;
    result.agent_id = agent_id_;
    Json blueprints = Json::array();

    // Blueprints and their ids (content.key, else the component id).
    std::vector<const Component*> bps;
    for (const auto& c : components_)
      if (c.type == "blueprints_blueprint") bps.push_back(&c);
    std::stable_sort(bps.begin(), bps.end(), [](const Component* a, const Component* b) {
      return a->position < b->position;
    });
    std::map<std::string, std::string> id_of_bp;  // component id → our blueprint id
    std::map<std::string, const Component*> bp_by_our_id;
    for (const Component* bp : bps) {
      const std::string key = textField(bp->content, "key");
      const std::string id = toId(key.empty() ? bp->id : key);
      auto [it, fresh] = bp_by_our_id.emplace(id, bp);
      if (!fresh) {
        issue(bp->file, bp->line, bp->id, bp->type,
              "its blueprint id '" + id + "' is also the id of blueprint " + it->second->id + " (" +
                  it->second->file + ":" + std::to_string(it->second->line) + ")");
        continue;
      }
      id_of_bp[bp->id] = id;
      if (!key.empty()) key_to_id_[key] = id;
      if (!key.empty() && id != key)
        result.notes.push_back("blueprint key '" + key + "' is blueprint id '" + id +
                               "' here (ids are letters, digits, _ . -)");
    }

    // Blocks, per blueprint; for-each prefixes (for the template rewrite) first.
    std::map<std::string, std::vector<const Component*>> blocks_of;
    for (const auto& c : components_) {
      if (!isBlock(c)) continue;
      if (c.type == "blueprints_foreach" && c.content.contains("prefix") &&
          c.content["prefix"].is_string())
        prefixes_.push_back(c.content["prefix"].get<std::string>());
      const bool known_parent = std::any_of(bps.begin(), bps.end(),
                                            [&c](const Component* b) { return b->id == c.parent; });
      if (!known_parent) {
        issue(c.file, c.line, c.id, c.type,
              c.parent.empty() ? "has no parentId: it belongs to no blueprint"
                               : "its parentId '" + c.parent + "' is not a blueprint");
        continue;
      }
      blocks_of[c.parent].push_back(&c);
    }

    for (const Component* bp : bps) {
      // A blueprint whose id collided is still converted, so its unsupported blocks are named.
      auto id_it = id_of_bp.find(bp->id);
      std::vector<const Component*>& blocks = blocks_of[bp->id];
      std::stable_sort(blocks.begin(), blocks.end(), [](const Component* a, const Component* b) {
        return a->position < b->position;
      });
      std::set<std::string> members;
      for (const Component* b : blocks) members.insert(b->id);
      Json out_blocks = Json::array();
      std::vector<std::string> triggers;
      for (const Component* b : blocks) {
        Json block = convertBlock(*b, *bp, members, result.notes);
        if (block.is_null()) continue;
        if (block["type"] == "api_trigger") triggers.push_back(b->id);
        out_blocks.push_back(std::move(block));
      }
      if (triggers.size() > 1) {
        std::string list;
        for (const auto& t : triggers) list += (list.empty() ? "" : ", ") + t;
        issue(bp->file, bp->line, bp->id, bp->type,
              "has " + std::to_string(triggers.size()) + " triggers (" + list +
                  "); a blueprint here has at most one: split it into one blueprint per trigger");
      }
      if (id_it == id_of_bp.end()) continue;
      const std::string key = textField(bp->content, "key");
      Json out = {{"id", id_it->second},
                  {"name", key.empty() ? bp->id : key},
                  {"blocks", std::move(out_blocks)}};
      blueprints.push_back(std::move(out));
    }

    if (!issues_.empty()) throw ImportError(source, std::move(issues_));
    if (ignored_ui_ > 0)
      result.notes.push_back("left out " + std::to_string(ignored_ui_) +
                             " UI component(s) (pages and their content): only blueprints run "
                             "here");
    result.agent = {{"id", agent_id_}, {"name", agent_id_}, {"blueprints", std::move(blueprints)}};
    return result;
  }

  void markFileSeen() { any_file_ = true; }
  void fileError(const std::string& file, const std::string& message) {
    issue(file, 0, "", "", message);
  }

 private:
  static bool isBlock(const Component& c) {
    return c.type.rfind("blueprints_", 0) == 0 && c.type != "blueprints_root" &&
           c.type != "blueprints_blueprint";
  }

  void issue(const std::string& file, long line, const std::string& block,
             const std::string& wf_type, const std::string& message, bool unsupported = false) {
    issues_.push_back({file, line, block, wf_type, message, unsupported});
  }

  void readComponent(const std::string& file, long line, const Json& j) {
    Component c;
    c.file = file;
    c.line = line;
    c.order = components_.size();
    if (!j.contains("id") || !j["id"].is_string() || j["id"].get<std::string>().empty()) {
      issue(file, line, "", "", "has no \"id\" string");
      return;
    }
    c.id = j["id"].get<std::string>();
    if (!j.contains("type") || !j["type"].is_string()) {
      issue(file, line, c.id, "", "has no \"type\" string");
      return;
    }
    c.type = j["type"].get<std::string>();
    if (c.type.rfind("blueprints_", 0) != 0) {
      ++ignored_ui_;  // pages, sections, text, …: the app's UI
      return;
    }
    if (j.contains("parentId") && j["parentId"].is_string())
      c.parent = j["parentId"].get<std::string>();
    if (j.contains("content") && !j["content"].is_null()) {
      if (!j["content"].is_object()) {
        issue(file, line, c.id, c.type, "its \"content\" is not a JSON object");
        return;
      }
      c.content = j["content"];
      // A blueprint's key is its name and id: text, or a clear issue instead of a type_error.
      const Json* key = c.content.contains("key") ? &c.content["key"] : nullptr;
      if (c.type == "blueprints_blueprint" && key != nullptr && !key->is_null() &&
          !key->is_string()) {
        issue(file, line, c.id, c.type,
              std::string("its \"content.key\" must be a string (the blueprint's name), got ") +
                  key->type_name());
        return;
      }
    }
    if (j.contains("position") && j["position"].is_number())
      c.position = j["position"].get<double>();
    if (j.contains("outs") && !j["outs"].is_null()) {
      if (!j["outs"].is_array()) {
        issue(file, line, c.id, c.type, "its \"outs\" is not a list");
        return;
      }
      std::size_t k = 0;
      for (const Json& o : j["outs"]) {
        ++k;
        if (!o.is_object() || !o.contains("outId") || !o["outId"].is_string() ||
            !o.contains("toNodeId") || !o["toNodeId"].is_string()) {
          issue(file, line, c.id, c.type,
                "out #" + std::to_string(k) + " needs \"outId\" and \"toNodeId\" strings");
          continue;
        }
        std::pair<std::string, std::string> edge(o["outId"].get<std::string>(),
                                                 o["toNodeId"].get<std::string>());
        if (std::find(c.outs.begin(), c.outs.end(), edge) == c.outs.end())  // WF repeats some
          c.outs.push_back(std::move(edge));
      }
    }
    if (!seen_ids_.emplace(c.id, file + ":" + std::to_string(line)).second) {
      issue(file, line, c.id, c.type,
            "its id is also the id of the component at " + seen_ids_[c.id]);
      return;
    }
    components_.push_back(std::move(c));
  }

  /// Our block for `c`, or null (with issues recorded) when it cannot be converted.
  Json convertBlock(const Component& c, const Component& bp, const std::set<std::string>& members,
                    std::vector<std::string>& notes) {
    const TypeMapping* m = findMapping(c.type);
    if (m == nullptr) {
      issue(c.file, c.line, c.id, c.type, refusalReason(c.type), true);
      return nullptr;
    }
    if (c.type == "blueprints_foreach" && c.content.contains("workflowKey")) {
      issue(c.file, c.line, c.id, c.type,
            "is the older for-each that runs another workflow by key (workflowKey); only the "
            "for-each with a `loop` branch runs here",
            true);
      return nullptr;
    }
    const std::string where = "block " + c.id + " (" + c.type + ")";
    Json block = {{"id", toId(c.id)}, {"type", m->type}};
    Json fields = Json::object();
    bool ok = true;
    for (const auto& [key, value] : c.content.items()) {
      if (key == "alias") {
        if (value.is_string() && !value.get<std::string>().empty()) block["name"] = value;
        continue;
      }
      if (c.type == "blueprints_uieventtrigger" &&
          (key == "refComponentId" || key == "refEventType"))
        continue;  // the UI binding; noted below
      auto f = std::find_if(m->fields.begin(), m->fields.end(),
                            [&key = key](const auto& p) { return p.first == key; });
      if (f == m->fields.end()) {
        std::string known;
        for (const auto& p : m->fields) known += (known.empty() ? "" : ", ") + p.first;
        issue(c.file, c.line, c.id, c.type,
              "field '" + key + "' has no counterpart in " + m->type +
                  " (fields that map: " + known + ")");
        ok = false;
        continue;
      }
      // WF treats an empty text as "not set"; only a value field keeps "" as a value.
      if (value.is_string() && value.get<std::string>().empty() && f->second != "value") continue;
      Json v = value;
      if (v.is_string()) {
        const std::string raw = v.get<std::string>();
        if (c.type == "blueprints_ifelse") {
          std::string why;
          std::string condition = translateIfElseCode(raw, prefixes_, why);
          if (condition.empty()) {
            issue(c.file, c.line, c.id, c.type,
                  "runs Python code that does not translate to a condition (" + why +
                      "); only `set_outcome(<comparison>)` on its own translates",
                  true);
            return nullptr;
          }
          v = condition;
        } else {
          const std::string text = rewriteTemplates(raw, prefixes_);
          for (const auto& head : templateHeads(text))
            if (head == "context" || head == "session")
              notes.push_back(where + ", field " + f->second + ": reads '" + head +
                              "', which a run here does not have (it resolves to null)");
            else if (!head.empty() && head[0] == '$')
              notes.push_back(where + ", field " + f->second + ": reads the secret '" +
                              head.substr(1) + "' from the environment variable " + head.substr(1) +
                              " (allow-list it in env_allow)");
          v = text;
        }
      }
      if (f->second == "value_type" && v.is_string()) {
        std::string lower = v.get<std::string>();
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
        v = lower;
      }
      if (f->second == "blueprint_id" && v.is_string() &&
          v.get<std::string>().find("@{") == std::string::npos) {
        auto k = key_to_id_.find(v.get<std::string>());
        if (k == key_to_id_.end()) {
          issue(c.file, c.line, c.id, c.type,
                "runs the blueprint with key '" + v.get<std::string>() +
                    "', which is not a blueprint of this app");
          ok = false;
          continue;
        }
        v = k->second;
      }
      fields[f->second] = std::move(v);
    }
    // WF defaults that differ from ours.
    if (m->type == "set_state" && !fields.contains("value")) fields["value"] = "";
    if (m->type == "run_blueprint" && !fields.contains("payload")) fields["payload"] = "{}";
    if (c.type == "blueprints_uieventtrigger")
      notes.push_back(where + " in blueprint " + textField(bp.content, "key", bp.id) +
                      ": a UI trigger, imported as an API trigger (its UI binding " +
                      textField(c.content, "refComponentId", "?") + "/" +
                      textField(c.content, "refEventType", "?") + " does not apply here)");

    Json next = Json::object();
    for (const auto& [out_id, target] : c.outs) {
      auto o = std::find_if(m->outs.begin(), m->outs.end(),
                            [&out_id = out_id](const auto& p) { return p.first == out_id; });
      if (o == m->outs.end()) {
        std::string known;
        for (const auto& p : m->outs) known += (known.empty() ? "" : ", ") + p.first;
        issue(
            c.file, c.line, c.id, c.type,
            "out '" + out_id + "' is not an end state of " + c.type + " (its outs: " + known + ")");
        ok = false;
        continue;
      }
      if (members.count(target) == 0) {
        issue(c.file, c.line, c.id, c.type,
              "out '" + out_id + "' points to '" + target +
                  "', which is not a block of blueprint " + bp.id);
        ok = false;
        continue;
      }
      Json& list = next[o->second];
      if (list.is_null()) list = Json::array();
      const std::string target_id = toId(target);
      if (std::find(list.begin(), list.end(), Json(target_id)) == list.end())
        list.push_back(target_id);
    }
    for (auto& [state, list] : next.items())
      if (list.size() == 1) list = Json(list[0]);
    if (!ok) return nullptr;
    block["fields"] = std::move(fields);
    if (!next.empty()) block["next"] = std::move(next);
    return block;
  }

  std::string agent_id_;
  std::vector<Component> components_;
  std::map<std::string, std::string> seen_ids_;
  std::map<std::string, std::string> key_to_id_;
  std::vector<std::string> prefixes_;
  std::vector<ImportIssue> issues_;
  std::size_t ignored_ui_ = 0;
  bool any_file_ = false;
};

bool isComponentFile(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.rfind("components-", 0) == 0 && p.extension() == ".jsonl";
}

}  // namespace

// ---- public ----

std::string ImportIssue::toString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!block.empty()) {
    out += "block " + block;
    if (!wf_type.empty()) out += " (" + wf_type + ")";
    out += " ";
  }
  return out + message;
}

namespace {
std::string describe(const std::string& source, const std::vector<ImportIssue>& issues) {
  std::vector<const ImportIssue*> unsupported, other;
  for (const auto& i : issues) (i.unsupported ? unsupported : other).push_back(&i);
  std::string msg = source + ": cannot import the Writer Framework blueprints";
  if (!unsupported.empty()) {
    msg += "; " + std::to_string(unsupported.size()) + " block(s) cannot run on this host:";
    for (const ImportIssue* i : unsupported) msg += "\n  " + i->toString();
  }
  if (!other.empty()) {
    msg += unsupported.empty() ? ":" : "\nand the files have these problems:";
    for (const ImportIssue* i : other) msg += "\n  " + i->toString();
  }
  return msg;
}
}  // namespace

ImportError::ImportError(const std::string& source, std::vector<ImportIssue> issues)
    : std::runtime_error(describe(source, issues)), issues_(std::move(issues)) {}

std::vector<ImportIssue> ImportError::unsupported() const {
  std::vector<ImportIssue> out;
  for (const auto& i : issues_)
    if (i.unsupported) out.push_back(i);
  return out;
}

std::string toId(const std::string& text) {
  std::string out;
  for (char c : text) out += isIdChar(c) ? c : '_';
  if (out.size() > 128) out.resize(128);
  return out.empty() ? "_" : out;
}

std::string rewriteTemplates(const std::string& text, const std::vector<std::string>& prefixes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '\\' && text.compare(i + 1, 2, "@{") == 0) {
      out += "\\@{";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "@{") == 0) {
      const auto close = text.find('}', i + 2);
      if (close == std::string::npos) {
        out += text.substr(i);
        break;
      }
      out += "@{" + rewritePath(text.substr(i + 2, close - i - 2), prefixes) + "}";
      i = close + 1;
      continue;
    }
    out += text[i++];
  }
  return out;
}

fs::path componentsDirectory(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir / ".wf", ec)) return dir / ".wf";
  return dir;
}

bool isWfDirectory(const fs::path& dir) {
  std::error_code ec;
  const fs::path d = componentsDirectory(dir);
  for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
    if (isComponentFile(it->path())) return true;
  return false;
}

ImportResult importFiles(const std::vector<std::pair<std::string, std::string>>& files,
                         const std::string& agent_id) {
  Importer importer(agent_id);
  for (const auto& [name, text] : files) {
    importer.markFileSeen();
    importer.readFile(name, text);
  }
  return importer.finish(agent_id);
}

ImportResult importDirectory(const fs::path& dir, const ImportOptions& options) {
  std::error_code ec;
  const fs::path components = componentsDirectory(dir);
  std::string agent_id = options.agent_id;
  if (agent_id.empty()) {
    fs::path app = fs::absolute(dir, ec).lexically_normal();
    if (app.filename().empty()) app = app.parent_path();
    if (app.filename() == ".wf") app = app.parent_path();
    agent_id = toId(app.filename().string());
  }
  Importer importer(agent_id);
  if (!fs::is_directory(dir, ec))
    throw ImportError(dir.string(), {{dir.string(), 0, "", "", "is not a directory"}});
  std::vector<fs::path> files;
  for (fs::directory_iterator it(components, ec), end; !ec && it != end; it.increment(ec))
    if (isComponentFile(it->path())) files.push_back(it->path());
  if (ec)
    throw ImportError(dir.string(),
                      {{components.string(), 0, "", "", "cannot be read: " + ec.message()}});
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    importer.markFileSeen();
    std::ifstream in(f, std::ios::binary);
    if (!in.is_open()) {
      importer.fileError(f.string(), "cannot be read");
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    importer.readFile(f.string(), text.str());
  }
  return importer.finish(dir.string());
}

}  // namespace blueprint::wf
