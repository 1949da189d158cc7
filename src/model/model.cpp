#include "model/model.h"

#include <filesystem>

#include "core/error.h"
#include "model/deepseek2.h"

namespace mla {

std::unique_ptr<Model> load_model(const std::string& dir, ThreadPool& pool, const LoadProgress& progress) {
  if (!std::filesystem::is_directory(dir)) fail(dir, ": model directory does not exist");
  return std::make_unique<DeepseekModel>(dir, pool, progress);
}

}  // namespace mla
