// Errors answered to a client: an HTTP status and OpenAI's error object
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// thrown by request validation and the handlers, turned into a response by the router.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace mla::server {

class ApiError : public Error {
 public:
  ApiError(int status, const std::string& message, std::string param = {}, std::string code = {},
           std::string type = "invalid_request_error")
      : Error(message), status(status), param(std::move(param)), code(std::move(code)), type(std::move(type)) {}

  int status;
  std::string param, code, type;
};

// OpenAI's shape; empty param / code are null.
inline nlohmann::json error_json(const std::string& message, const std::string& type, const std::string& param,
                                 const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
            {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}};
}
inline nlohmann::json error_json(const ApiError& e) { return error_json(e.what(), e.type, e.param, e.code); }

}  // namespace mla::server
