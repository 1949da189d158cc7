// mla convert: a Hugging Face checkpoint directory -> one GGUF file in llama.cpp's layout
// (model/gguf_export.h), so the same weights run in llama.cpp and here.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "model/gguf_export.h"
#include "model/quant_presets.h"

namespace mla::cli {

void register_convert(CLI::App& app) {
  struct Opts {
    std::string model, to = "gguf", out, type;
    bool no_tokenizer = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("convert", "write a Hugging Face checkpoint as a GGUF file (llama.cpp layout)");
  cmd->add_option("-m,--model", o->model, "Hugging Face model directory")->required();
  cmd->add_option("--to", o->to, "output format")->check(CLI::IsMember({"gguf"}));
  cmd->add_option("-o,--out", o->out, "output file")->required();
  cmd->add_option("--type", o->type,
                   "f32 | f16 | bf16, a llama-quantize preset (" + quant_preset_names() +
                       ") or one block type for every matrix (default: as stored, fp8 as bf16: lossless)");
  cmd->add_flag("--no-tokenizer", o->no_tokenizer,
                 "write the file even if the directory has no tokenizer.json (llama.cpp will not load it)");
  cmd->callback([o] {
    // llama.cpp cannot load a GGUF without tokenizer.ggml.model, which comes from tokenizer.json.
    if (!std::filesystem::exists(o->model + "/tokenizer.json")) {
      if (!o->no_tokenizer)
        fail("convert: ", o->model, " has no tokenizer.json, so the GGUF file would have no tokenizer and llama.cpp "
             "would not load it; give --no-tokenizer to write it anyway");
      std::fprintf(stderr, "convert: no tokenizer.json in %s: the GGUF file will have no tokenizer and will not load "
                   "in llama.cpp\n", o->model.c_str());
    }
    std::optional<DType> type;
    std::optional<QuantChoice> mix;
    if (o->type == "f32") type = DType::F32;
    else if (o->type == "f16") type = DType::F16;
    else if (o->type == "bf16") type = DType::BF16;
    else if (!o->type.empty() && !(mix = parse_quant_choice(o->type)))
      fail("convert: --type '", o->type, "' is not one of f32, f16, bf16, ", quant_choice_names());
    export_gguf(o->model, o->out, type, mix);
  });
}

}  // namespace mla::cli
