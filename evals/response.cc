#include "evals/response.h"

#include "harness/base/error.h"

namespace laco {

using nlohmann::json;

bool Response::operator==(const Response& o) const {
  return id == o.id && category == o.category && image_id == o.image_id && target == o.target &&
         response == o.response && parsed == o.parsed && score == o.score && fields == o.fields &&
         prompt_tokens == o.prompt_tokens && visual_tokens == o.visual_tokens && output_tokens == o.output_tokens &&
         ttft_ms == o.ttft_ms && tpot_ms == o.tpot_ms;
}

Response scored_response(const TaskQuestion& q, const std::string& response, const QuestionScore& s) {
  Response r;
  r.id = q.id;
  r.category = q.category;
  r.image_id = q.image_id;
  r.target = q.answers;
  r.response = response;
  r.parsed = s.parsed;
  r.score = s.score;
  r.fields = s.fields;
  return r;
}

json to_json(const Response& r) {
  json j = {{"id", r.id},         {"category", r.category}, {"image_id", r.image_id}, {"target", r.target},
            {"response", r.response}, {"parsed", r.parsed}, {"score", r.score},       {"fields", r.fields}};
  if (r.prompt_tokens) j["prompt_tokens"] = *r.prompt_tokens;
  if (r.visual_tokens) j["visual_tokens"] = *r.visual_tokens;
  if (r.output_tokens) j["output_tokens"] = *r.output_tokens;
  if (r.ttft_ms) j["ttft_ms"] = *r.ttft_ms;
  if (r.tpot_ms) j["tpot_ms"] = *r.tpot_ms;
  return j;
}

namespace {

const json& field(const json& j, const char* key, bool (json::*check)() const noexcept, const char* what,
                  const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) fail("{}: field '{}' is missing (allowed: {})", where, key, what);
  if (!((*it).*check)()) fail("{}: field '{}' is {} (allowed: {})", where, key, it->type_name(), what);
  return *it;
}

}  // namespace

Response response_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: a response is {} (allowed: a JSON object)", where, j.type_name());
  Response r;
  r.id = field(j, "id", &json::is_string, "a string", where).get<std::string>();
  r.category = field(j, "category", &json::is_string, "a string", where).get<std::string>();
  r.image_id = field(j, "image_id", &json::is_string, "a string", where).get<std::string>();
  for (const auto& t : field(j, "target", &json::is_array, "an array of strings", where)) {
    if (!t.is_string()) fail("{}: field 'target' holds {} (allowed: strings)", where, t.type_name());
    r.target.push_back(t.get<std::string>());
  }
  r.response = field(j, "response", &json::is_string, "a string", where).get<std::string>();
  r.parsed = field(j, "parsed", &json::is_string, "a string", where).get<std::string>();
  r.score = field(j, "score", &json::is_number, "a number", where).get<double>();
  r.fields = field(j, "fields", &json::is_object, "an object", where);
  for (auto [key, slot] : {std::pair{"prompt_tokens", &r.prompt_tokens}, {"visual_tokens", &r.visual_tokens},
                           {"output_tokens", &r.output_tokens}})
    if (j.contains(key)) *slot = field(j, key, &json::is_number_integer, "an integer", where).get<int64_t>();
  for (auto [key, slot] : {std::pair{"ttft_ms", &r.ttft_ms}, {"tpot_ms", &r.tpot_ms}})
    if (j.contains(key)) *slot = field(j, key, &json::is_number, "a number", where).get<double>();
  return r;
}

}  // namespace laco
