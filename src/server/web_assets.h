// The chat page `mla serve` answers GET / with: the files of src/server/web (HTML, CSS, JavaScript
// written for this project, no framework, nothing fetched from elsewhere), compiled into the binary
// by cmake/embed_files.cmake. They hold no data: the page asks the API for everything it shows.
#pragma once
#include <span>
#include <string_view>

namespace mla::server {

struct WebAsset {
  std::string_view path;          // "/" for index.html, "/app.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// Every embedded file (defined in the generated web_assets.cpp).
std::span<const WebAsset> web_assets();

// The file served at `path`, or nullptr.
inline const WebAsset* find_web_asset(std::string_view path) {
  for (const WebAsset& a : web_assets())
    if (a.path == path) return &a;
  return nullptr;
}

}  // namespace mla::server
