#include "dist/expert_exchange.h"

#include <algorithm>

#include "core/error.h"
#include "model/weight_binder.h"

namespace mla::dist {

ExpertDispatcher::ExpertDispatcher(std::vector<ExpertShare> plan, const ModelConfig& cfg,
                                   std::unique_ptr<ExpertTransport> transport)
    : plan_(std::move(plan)),
      hidden_(cfg.hidden_size),
      K_(cfg.num_experts_per_tok),
      transport_(std::move(transport)),
      out_(plan_.size()),
      rows_(plan_.size()) {}

void ExpertDispatcher::dispatch(int64_t layer, const float* x, int64_t T, const int32_t* ids, const float* weights) {
  pending_ = true;
  dispatched_rows_ = T;
  for (size_t r = 1; r < plan_.size(); ++r) {
    const ExpertShare& s = plan_[r];
    ExpertRows& m = out_[r];
    std::vector<int64_t>& rows = rows_[r];
    rows.clear();
    for (int64_t t = 0; t < T; ++t)
      if (std::any_of(ids + t * K_, ids + (t + 1) * K_, [&](int32_t e) { return e >= s.expert_begin && e < s.expert_end; }))
        rows.push_back(t);
    m.layer = layer;
    m.n = static_cast<int64_t>(rows.size());
    m.x.resize(m.n * hidden_);
    m.ids.resize(m.n * K_);
    m.weights.resize(m.n * K_);
    for (int64_t i = 0; i < m.n; ++i) {
      const int64_t t = rows[i];
      std::copy_n(x + t * hidden_, hidden_, m.x.data() + i * hidden_);
      std::copy_n(ids + t * K_, K_, m.ids.data() + i * K_);
      std::copy_n(weights + t * K_, K_, m.weights.data() + i * K_);
    }
    if (m.n > 0) transport_->send_rows(static_cast<int>(r), m);  // a rank none of whose experts was chosen waits on
  }
}

void ExpertDispatcher::combine(float* out, int64_t T) {
  if (T != dispatched_rows_) fail("expert split: combine of ", T, " rows after a dispatch of ", dispatched_rows_);
  for (size_t r = 1; r < plan_.size(); ++r) {
    const std::vector<int64_t>& rows = rows_[r];
    const int64_t n = static_cast<int64_t>(rows.size());
    if (n == 0) continue;
    if (sums_.size() < static_cast<size_t>(n * hidden_)) sums_.resize(n * hidden_);
    transport_->recv_sums(static_cast<int>(r), sums_.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      float* dst = out + rows[i] * hidden_;
      const float* src = sums_.data() + i * hidden_;
      for (int64_t d = 0; d < hidden_; ++d) dst[d] += src[d];
    }
  }
  pending_ = false;
}

void ExpertDispatcher::quit() {
  const ExpertRows stop;
  for (size_t r = 1; r < plan_.size(); ++r) transport_->send_rows(static_cast<int>(r), stop);
}

ExpertShard::ExpertShard(const ModelConfig& cfg, std::unique_ptr<WeightSource> weights, const ExpertShare& share,
                         const LoadProgress& progress)
    : cfg_(cfg), weights_(std::move(weights)), layers_(cfg.num_hidden_layers) {
  WeightBinder b(*weights_, realigned_);
  for (int64_t i = 0; i < cfg_.num_hidden_layers; ++i)
    if (cfg_.is_moe_layer(i))
      layers_[i] = bind_routed_experts(b, "model.layers." + std::to_string(i), share.expert_begin, share.expert_end,
                                       cfg_.hidden_size, cfg_.moe_intermediate_size);
  prefault(b.spans, progress);
}

void ExpertShard::run(ThreadPool& pool, const ExpertRows& rows, float* sums) {
  const int64_t D = cfg_.hidden_size, K = cfg_.num_experts_per_tok;
  if (rows.layer < 0 || rows.layer >= cfg_.num_hidden_layers || !cfg_.is_moe_layer(rows.layer))
    fail("expert split: rows for layer ", rows.layer, ", which is not a MoE layer of this model");
  if (rows.n < 0 || rows.x.size() != static_cast<size_t>(rows.n * D) || rows.ids.size() != static_cast<size_t>(rows.n * K) ||
      rows.weights.size() != rows.ids.size())
    fail("expert split: a message of ", rows.n, " rows with ", rows.x.size(), " values, ", rows.ids.size(),
         " expert ids and ", rows.weights.size(), " weights");
  std::fill_n(sums, rows.n * D, 0.0f);
  run_routed_experts(pool, layers_[rows.layer], rows.x.data(), rows.n, D, K, rows.ids.data(), rows.weights.data(),
                     scratch_, sums);
}

}  // namespace mla::dist
