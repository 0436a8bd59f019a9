/* Errors as JS values: SocketError instances (the class is handed over by socket.ts) carrying
 * errno, code and syscall, so callers never parse message strings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nsock.h"

static void delete_class_ref(napi_env env, void *data, void *hint) {
  (void)hint;
  napi_delete_reference(env, (napi_ref)data);
}

napi_status nsock_set_error_class(napi_env env, napi_value constructor) {
  napi_ref ref;
  napi_status status = napi_create_reference(env, constructor, 1, &ref);
  if (status != napi_ok) return status;
  void *previous = NULL;
  if (napi_get_instance_data(env, &previous) == napi_ok && previous != NULL) {
    napi_delete_reference(env, (napi_ref)previous);
  }
  return napi_set_instance_data(env, ref, delete_class_ref, NULL);
}

static const char *errno_name(int err, char *fallback, size_t size) {
  const char *name = strerrorname_np(err);
  if (name != NULL) return name;
  snprintf(fallback, size, "E%d", err);
  return fallback;
}

static napi_value build_error(napi_env env, int err, const char *syscall, const char *message) {
  char fallback[16];
  const char *code = errno_name(err, fallback, sizeof fallback);
  napi_value args[4];
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &args[0]) != napi_ok) return NULL;
  if (napi_create_int32(env, err, &args[1]) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &args[2]) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &args[3]) != napi_ok) return NULL;

  void *data = NULL;
  napi_value constructor = NULL, error = NULL;
  if (napi_get_instance_data(env, &data) == napi_ok && data != NULL &&
      napi_get_reference_value(env, (napi_ref)data, &constructor) == napi_ok && constructor != NULL &&
      napi_new_instance(env, constructor, 4, args, &error) == napi_ok) {
    return error;
  }
  /* Before socket.ts registered its class: a plain Error with the same fields. */
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  if (napi_create_error(env, args[2], args[0], &error) != napi_ok) return NULL;
  if (napi_set_named_property(env, error, "errno", args[1]) != napi_ok) return NULL;
  if (napi_set_named_property(env, error, "syscall", args[3]) != napi_ok) return NULL;
  return error;
}

napi_value nsock_error(napi_env env, int err, const char *syscall) {
  char text[256], message[320];
  /* GNU strerror_r: returns a pointer that may or may not be into text. */
  const char *reason = strerror_r(err, text, sizeof text);
  snprintf(message, sizeof message, "%s: %s", syscall, reason);
  return build_error(env, err, syscall, message);
}

void nsock_throw_message(napi_env env, int err, const char *syscall, const char *message) {
  napi_value error = build_error(env, err, syscall, message);
  if (error != NULL) {
    napi_throw(env, error);
  } else {
    napi_throw_error(env, NULL, message);
  }
}

void nsock_throw(napi_env env, int err, const char *syscall) {
  napi_value error = nsock_error(env, err, syscall);
  if (error != NULL) {
    napi_throw(env, error);
  } else {
    napi_throw_error(env, NULL, syscall);
  }
}
