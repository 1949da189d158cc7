// OpenAI request validation (src/server/openai_request.h): fields land in RequestParams, defaults
// follow OpenAI, and every bad field is a 400 ApiError naming it (unknown model: 404).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "formats/json_strict.h"
#include "server/openai_request.h"
#include "testing/tiny_tokenizer.h"

namespace mla::server {
namespace {

using testing::added_token;
using testing::json;

constexpr const char* kBos = "<｜begin▁of▁sentence｜>";
constexpr const char* kEos = "<｜end▁of▁sentence｜>";

class OpenAiRequest : public ::testing::Test {
 protected:
  void SetUp() override {
    json j = testing::tiny_tokenizer({});
    j["added_tokens"] = json::array({added_token(kBos, 256), added_token(kEos, 257), added_token("<｜User｜>", 258),
                                      added_token("<｜Assistant｜>", 259)});
    for (const auto& t : j["added_tokens"]) j["model"]["vocab"][t["content"].get<std::string>()] = t["id"];
    tok_ = testing::load_tokenizer(j);
    served_.name = "tiny";
    served_.tok = tok_.get();
    served_.chat = &v3_;
    served_.vocab_size = 260;
    served_.max_context = 64;
    served_.bos_id = 256;
    served_.timeout_seconds = 30;
  }

  ApiRequest completions(const json& body) { return parse_openai_request(Endpoint::Completions, body.dump(), served_); }
  ApiRequest chat(const json& body) { return parse_openai_request(Endpoint::Chat, body.dump(), served_); }

  // The ApiError a body raises: "status param" ("" when it parses).
  std::string error_of(Endpoint e, const std::string& body) {
    try {
      parse_openai_request(e, body, served_);
    } catch (const ApiError& err) {
      return std::to_string(err.status) + " " + err.param;
    }
    return "";
  }

  std::unique_ptr<Tokenizer> tok_;
  ChatTemplate v3_ = ChatTemplate::builtin(ChatFamily::DeepseekV3, kBos, kEos);
  ChatTemplate r1_ = ChatTemplate::builtin(ChatFamily::DeepseekR1, kBos, kEos);
  ServedModel served_;
};

TEST_F(OpenAiRequest, CompletionFieldsLandInTheParams) {
  const ApiRequest r = completions({{"model", "tiny"}, {"prompt", "ab"}, {"max_tokens", 5}, {"temperature", 0.5},
                                    {"top_p", 0.9}, {"top_k", 40}, {"min_p", 0.05}, {"presence_penalty", -1.5},
                                    {"frequency_penalty", 2}, {"repetition_penalty", 1.2}, {"seed", 42},
                                    {"stop", {"x", "yz"}}, {"n", 3}, {"stream", true},
                                    {"stream_options", {{"include_usage", true}}}, {"logprobs", 2},
                                    {"ignore_eos", true}, {"user", "ignored"}});
  EXPECT_EQ(r.params.prompt, (std::vector<int32_t>{256, 'a', 'b'}));  // BOS + bytes
  EXPECT_EQ(r.params.max_tokens, 5);
  EXPECT_FLOAT_EQ(r.params.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.params.sampling.top_p, 0.9f);
  EXPECT_EQ(r.params.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.params.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r.params.sampling.presence_penalty, -1.5f);
  EXPECT_FLOAT_EQ(r.params.sampling.frequency_penalty, 2.0f);
  EXPECT_FLOAT_EQ(r.params.sampling.repetition_penalty, 1.2f);
  EXPECT_EQ(r.params.sampling.seed, 42u);
  EXPECT_EQ(r.params.stop, (std::vector<std::string>{"x", "yz"}));
  EXPECT_EQ(r.n, 3);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.params.top_logprobs, 2);
  EXPECT_TRUE(r.params.ignore_eos);
  EXPECT_DOUBLE_EQ(r.params.timeout_seconds, 30);
}

TEST_F(OpenAiRequest, DefaultsFollowOpenAi) {
  const ApiRequest c = completions({{"model", "tiny"}, {"prompt", {1, 2, 3}}});
  EXPECT_EQ(c.params.prompt, (std::vector<int32_t>{1, 2, 3}));  // token ids as given, no BOS
  EXPECT_EQ(c.params.max_tokens, 16);
  EXPECT_FLOAT_EQ(c.params.sampling.temperature, 1.0f);
  EXPECT_EQ(c.params.top_logprobs, -1);
  EXPECT_EQ(c.n, 1);
  EXPECT_FALSE(c.stream);
  const ApiRequest h = chat({{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  EXPECT_EQ(h.params.max_tokens, 64 - static_cast<int64_t>(h.params.prompt.size()));  // the rest of the context
  EXPECT_FALSE(h.reasoning);
}

TEST_F(OpenAiRequest, ChatRendersTheTemplate) {
  const ApiRequest a = chat({{"model", "tiny"},
                             {"messages", {{{"role", "developer"}, {"content", "S"}},
                                           {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "h"}},
                                                                            {{"type", "text"}, {"text", "i"}}}}}}},
                             {"max_completion_tokens", 7},
                             {"max_tokens", 9}});
  // bos + "S" + <｜User｜> + "hi" + <｜Assistant｜>
  EXPECT_EQ(a.params.prompt, (std::vector<int32_t>{256, 'S', 258, 'h', 'i', 259}));
  EXPECT_EQ(a.params.max_tokens, 7);  // max_completion_tokens wins
  served_.chat = &r1_;
  const ApiRequest r = chat({{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", "q"}}}}});
  EXPECT_TRUE(r.reasoning);
  EXPECT_TRUE(r.opened_think);
  served_.chat = nullptr;
  EXPECT_EQ(error_of(Endpoint::Chat, R"({"model":"tiny","messages":[{"role":"user","content":"q"}]})"),
            "400 messages");
}

TEST_F(OpenAiRequest, ChatLogprobs) {
  const json msgs = {{{"role", "user"}, {"content", "hi"}}};
  EXPECT_EQ(chat({{"model", "tiny"}, {"messages", msgs}, {"logprobs", true}}).params.top_logprobs, 0);
  EXPECT_EQ(chat({{"model", "tiny"}, {"messages", msgs}, {"logprobs", true}, {"top_logprobs", 5}}).params.top_logprobs, 5);
  EXPECT_EQ(chat({{"model", "tiny"}, {"messages", msgs}, {"logprobs", false}}).params.top_logprobs, -1);
}

TEST_F(OpenAiRequest, EveryBadFieldIsNamed) {
  const std::string m = R"("model":"tiny",)";
  const std::string p = m + R"("prompt":"ab",)";
  struct Case {
    const char* body_tail;  // appended to p (a valid prompt) and closed with "}"
    const char* want;
  };
  const Case cases[] = {
      {R"("max_tokens":0)", "400 max_tokens"},         {R"("max_tokens":-3)", "400 max_tokens"},
      {R"("max_tokens":62)", "400 max_tokens"},        {R"("max_tokens":1.5)", "400 max_tokens"},
      {R"("max_tokens":"4")", "400 max_tokens"},       {R"("max_tokens":18446744073709551615)", "400 max_tokens"},
      {R"("temperature":2.01)", "400 temperature"},    {R"("temperature":-0.1)", "400 temperature"},
      {R"("temperature":true)", "400 temperature"},    {R"("top_p":0)", "400 top_p"},
      {R"("top_p":1.01)", "400 top_p"},                {R"("top_k":-2)", "400 top_k"},
      {R"("min_p":1.5)", "400 min_p"},                 {R"("presence_penalty":2.5)", "400 presence_penalty"},
      {R"("frequency_penalty":-2.5)", "400 frequency_penalty"},
      {R"("repetition_penalty":0)", "400 repetition_penalty"},
      {R"("seed":"1")", "400 seed"},                   {R"("seed":1e30)", "400 seed"},
      {R"("n":0)", "400 n"},                           {R"("n":17)", "400 n"},
      {R"("stop":["a","b","c","d","e"])", "400 stop"}, {R"("stop":[""])", "400 stop"},
      {R"("stop":{})", "400 stop"},                    {R"("stream":1)", "400 stream"},
      {R"("stream_options":{"include_usage":true})", "400 stream_options"},
      {R"("stream":true,"stream_options":{"include_usage":"yes"})", "400 include_usage"},
      {R"("logprobs":21)", "400 logprobs"},            {R"("logprobs":-1)", "400 logprobs"},
      {R"("echo":true)", "400 echo"},                  {R"("ignore_eos":"no")", "400 ignore_eos"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(error_of(Endpoint::Completions, "{" + p + c.body_tail + "}"), c.want) << c.body_tail;
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + p + R"("max_tokens":61})"), "");  // 3 prompt tokens + 61 = 64
  EXPECT_EQ(error_of(Endpoint::Completions, R"({"model":"gpt","prompt":"a"})"), "404 model");
  EXPECT_EQ(error_of(Endpoint::Completions, R"({"prompt":"a"})"), "400 model");
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + m + R"("prompt":[1,260]})"), "400 prompt");
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + m + R"("prompt":[-1]})"), "400 prompt");
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + m + R"("prompt":[]})"), "400 prompt");
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + m + R"("prompt":["a","b"]})"), "400 prompt");
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + m + "\"prompt\":\"" + std::string(70, 'x') + "\"}"), "400 prompt");
  EXPECT_EQ(error_of(Endpoint::Completions, "{" + m + "\"prompt\":\"a\xff\"}"), "400 ");  // invalid UTF-8
  EXPECT_EQ(error_of(Endpoint::Completions, std::string(100, '[')), "400 ");
  EXPECT_EQ(error_of(Endpoint::Completions, "[]"), "400 ");
  EXPECT_EQ(error_of(Endpoint::Chat, "{" + m + R"("messages":[{"role":"user","content":"a"}],"top_logprobs":3})"),
            "400 top_logprobs");
  EXPECT_EQ(error_of(Endpoint::Chat, "{" + m + R"("messages":[{"role":"tool","content":"a"}]})"), "400 messages");
  EXPECT_EQ(error_of(Endpoint::Chat, "{" + m + R"("messages":[{"role":"user","content":5}]})"), "400 messages");
  EXPECT_EQ(error_of(Endpoint::Chat, "{" + m + R"("messages":[]})"), "400 messages");
}

// Found by fuzz/openai_request_fuzz.cpp: a body that starts with a multi-byte character is malformed
// JSON, and nlohmann's message quotes the bytes it read ("last read: '\xEF'"), half a character. The
// message goes to the client inside the error JSON, so it must be valid UTF-8 (the invalid byte
// spelt out as text).
TEST_F(OpenAiRequest, ErrorMessagesAreValidUtf8) {
  for (const std::string body : {"\xef\xbd\x9c>{}", "{\"model\":\"tiny\",\"prompt\":\"a\"}\xc3\xa9", "\xe4\xb8\xad"}) {
    try {
      parse_openai_request(Endpoint::Completions, body, served_);
      ADD_FAILURE() << body << " parsed";
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status, 400);
      EXPECT_NO_THROW((void)error_json(e).dump()) << e.what();  // dump() throws on invalid UTF-8
      EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(mla::valid_utf8_text("a\xef\xbd'b\xff"), "a\\xEF\\xBD'b\\xFF");
  EXPECT_EQ(mla::valid_utf8_text("ok \xe4\xb8\xad"), "ok \xe4\xb8\xad");
}

TEST_F(OpenAiRequest, TokenizeAndDetokenize) {
  EXPECT_EQ(parse_tokenize_request(R"({"prompt":"ab"})", served_), (std::vector<int32_t>{256, 'a', 'b'}));
  EXPECT_EQ(parse_tokenize_request(R"({"prompt":"ab","add_special_tokens":false})", served_),
            (std::vector<int32_t>{'a', 'b'}));
  EXPECT_EQ(parse_tokenize_request(R"({"messages":[{"role":"user","content":"a"}]})", served_),
            (std::vector<int32_t>{256, 258, 'a', 259}));
  EXPECT_EQ(parse_detokenize_request(R"({"tokens":[97,98]})", served_), (std::vector<int32_t>{97, 98}));
  EXPECT_THROW(parse_detokenize_request(R"({"tokens":[260]})", served_), ApiError);
  EXPECT_THROW(parse_detokenize_request(R"({"tokens":"ab"})", served_), ApiError);
  EXPECT_THROW(parse_tokenize_request(R"({})", served_), ApiError);
  EXPECT_THROW(parse_tokenize_request(R"({"prompt":"a","model":"other"})", served_), ApiError);
}

}  // namespace
}  // namespace mla::server
