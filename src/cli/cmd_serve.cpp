// mla serve: the OpenAI-compatible HTTP server (src/server) over the serving engine. It listens
// first and loads second, so /health answers 503 {"status":"loading"} while the model loads.
// SIGINT or SIGTERM stops it: requests in flight end "cancelled", then the process exits 0.
//
// Under mpirun with N ranks (docs/DISTRIBUTED.md) rank 0 is the server and runs the engine over the
// first stage of a pipeline split by layers; the other ranks only serve their stages' steps, until
// rank 0 stops.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "commands.h"
#include "common.h"
#include "core/error.h"
#include "core/stop_signal.h"
#include "dist/mpi.h"
#include "engine/engine.h"
#include "kv/kv_accounting.h"
#include "server/openai_api.h"
#include "tokenizer/chat_template.h"

namespace mla::cli {

void register_serve(CLI::App& app) {
  struct Opts {
    ModelFlags model;
    std::string host = "127.0.0.1", api_key, name, family, kv_mem = "8GiB", kv_type = kDefaultKvType, max_body = "4MiB";
    uint16_t port = 8080;
    int64_t max_running = 64, max_queue = 256, context = 0;
    double timeout = 600;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (chat, completions, streaming)");
  add_model_flags(cmd, o->model);
  add_split_flag(cmd, o->model);
  cmd->add_option("--host", o->host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", o->port, "TCP port (0: any free port, printed on stderr)");
  cmd->add_option("--api-key", o->api_key, "require 'Authorization: Bearer KEY' on every endpoint but /health")
      ->envname("MLA_API_KEY");
  cmd->add_option("--served-model-name", o->name, "the model name clients send (default: the model directory's name)");
  cmd->add_option("--template", o->family, "chat template deepseek-v3 | deepseek-r1 whatever tokenizer_config.json says");
  cmd->add_option("--kv-mem", o->kv_mem, "memory for the KV cache of all sequences (e.g. 8GiB)");
  add_kv_type_flag(cmd, o->kv_type, "cache element format: f32 | bf16 (default) | f16 | fp8 | q8_0");
  cmd->add_option("--max-running", o->max_running, "sequences decoded together at most")->check(CLI::Range(1, 4096));
  cmd->add_option("--max-queue", o->max_queue, "waiting requests beyond this are answered 429")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-c,--context", o->context, "context length (default: the model's max_position_embeddings)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--timeout", o->timeout, "seconds a request may run (0: no limit)")->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--max-body", o->max_body, "largest request body accepted (e.g. 4MiB)");
  cmd->callback([o] {
    if (dist::world().rank > 0) {
      // A pipeline stage: no port, no tokenizer. It ends when rank 0 says so; mpirun's SIGINT or
      // SIGTERM reaches every rank at once, and only rank 0 acts on it.
      ignore_stop_signals();
      ThreadPool pool(o->model.threads);
      open_model_split(o->model, pool);  // serves rank 0's steps, returns when rank 0 stops
      return;
    }
    EngineOptions eo;
    eo.attn = parse_attn_mode(o->model.attn);
    eo.kv_mem_bytes = kv::parse_mem(o->kv_mem);
    eo.kv_type = parse_kv_type(o->kv_type);
    eo.max_running = o->max_running;
    eo.max_queue = o->max_queue;
    eo.max_context = o->context;
    server::HttpLimits limits;
    limits.body_bytes = kv::parse_mem(o->max_body);
    std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a write error, not the end of the server

    // Never freed: the detached accept and connection threads use them until the process ends
    // (also when loading fails and this callback throws).
    auto* api = new server::OpenAiApi(o->api_key);
    auto* http = new server::HttpServer(
        o->host, o->port, limits, [api](const server::HttpRequest& r, server::Responder& out) { api->handle(r, out); },
        [api](int status) { api->count_status(status); });
    std::fprintf(stderr, "mla serve: listening on http://%s:%u\n", o->host.c_str(), http->port());
    std::fflush(stderr);
    std::thread([http] { http->run(); }).detach();

    std::string dir = o->model.dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    const std::string name = o->name.empty() ? std::filesystem::path(dir).filename().string() : o->name;
    auto tok = open_tokenizer(o->model.dir, true);
    std::optional<ChatFamily> force;
    if (!o->family.empty()) force = parse_chat_family(o->family);
    std::optional<ChatTemplate> chat;
    try {
      chat = open_chat_template(o->model.dir, *tok, force);
    } catch (const Error& e) {
      if (force) throw;
      // A model without a DeepSeek chat template (a Llama baseline) still serves /v1/completions.
      std::fprintf(stderr, "mla serve: /v1/chat/completions disabled: %s\n", e.what());
    }
    ThreadPool pool(o->model.threads);
    std::unique_ptr<Model> model = open_model_split(o->model, pool);
    Engine engine(*model, *tok, eo);

    server::ServedModel served;
    served.name = name;
    served.tok = tok.get();
    served.chat = chat ? &*chat : nullptr;
    served.vocab_size = model->config().vocab_size;
    served.max_context = engine.max_context();
    served.bos_id = model->config().bos_token_id ? static_cast<int32_t>(*model->config().bos_token_id) : -1;
    served.timeout_seconds = o->timeout;
    try {
      served.kv_shape = kv::shape_from_config(model->config());
    } catch (const Error& e) {
      std::fprintf(stderr, "mla serve: no MHA comparison on /cache: %s\n", e.what());
    }
    api->set_ready(engine, served);
    catch_stop_signals();
    std::fprintf(stderr, "mla serve: ready, serving '%s' (context %lld tokens, KV budget %s)\n", name.c_str(),
                 static_cast<long long>(served.max_context), human_bytes(eo.kv_mem_bytes).c_str());
    std::fflush(stderr);

    const int sig = wait_for_stop_signal();
    std::fprintf(stderr, "mla serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    engine.stop();  // after its step in progress; the model is idle from here on
    model.reset();  // under a pipeline: the other ranks leave their loop
    dist::finalize();
    std::fflush(stdout);
    std::fflush(stderr);
    // The connection threads still hold the engine, tokenizer and template (locals above): the
    // process ends here, without running destructors under them.
    std::_Exit(0);
  });
}

}  // namespace mla::cli
