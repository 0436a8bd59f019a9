/* nsock: generic sockets for Node.js over N-API (C, no protocol knowledge). Sockets are JS
 * externals; socket.ts wraps them in NativeSocket. Nothing here may abort the process: every
 * failure becomes a thrown SocketError or an error delivered to the receive callback. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsock.h"

#define MAX_ARGS 8

typedef struct {
  napi_env env;
  size_t argc;
  napi_value argv[MAX_ARGS];
} call_args;

static int get_args(napi_env env, napi_callback_info info, call_args *args, size_t required) {
  args->env = env;
  args->argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &args->argc, args->argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "nsock: cannot read arguments");
    return -1;
  }
  if (args->argc < required) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "nsock: missing arguments");
    return -1;
  }
  return 0;
}

static int get_int(napi_env env, napi_value value, const char *what, int32_t *out) {
  napi_valuetype type;
  double number;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_double(env, value, &number) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return -1;
  }
  /* napi_get_value_int32 would silently truncate 1.5 and wrap 2**31: refuse both. */
  if (number != (double)(int32_t)number || number < INT32_MIN || number > INT32_MAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return -1;
  }
  *out = (int32_t)number;
  return 0;
}

static int get_bool(napi_env env, napi_value value, const char *what, int *out) {
  bool b;
  if (napi_get_value_bool(env, value, &b) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return -1;
  }
  *out = b ? 1 : 0;
  return 0;
}

static int is_buffer(napi_env env, napi_value value) {
  bool result = false;
  return napi_is_buffer(env, value, &result) == napi_ok && result;
}

static int get_bytes(napi_env env, napi_value value, const char *what, void **data, size_t *length) {
  if (!is_buffer(env, value) || napi_get_buffer_info(env, value, data, length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return -1;
  }
  return 0;
}

static int is_nullish(napi_env env, napi_value value) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && (type == napi_undefined || type == napi_null);
}

/* A failed napi call with nothing thrown yet: throw, so JS never sees a silent undefined. */
static int throw_failure(napi_env env, const char *call) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) {
    char message[96];
    snprintf(message, sizeof message, "nsock: %s failed", call);
    napi_throw_error(env, NULL, message);
  }
  return -1;
}

/* An optional raw sockaddr argument: NULL/0 when absent. */
static int get_address(napi_env env, call_args *args, size_t index, void **data, socklen_t *length) {
  *data = NULL;
  *length = 0;
  if (index >= args->argc || is_nullish(env, args->argv[index])) return 0;
  size_t size;
  if (get_bytes(env, args->argv[index], "address must be a Buffer", data, &size) != 0) return -1;
  if (size > sizeof(struct sockaddr_storage)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "address is longer than sockaddr_storage");
    return -1;
  }
  *length = (socklen_t)size;
  return 0;
}

/* The open socket behind argument 0, or NULL with a JS exception thrown. */
static nsock_socket *get_socket(napi_env env, call_args *args, const char *syscall) {
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, args->argv[0], &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, args->argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a native socket handle");
    return NULL;
  }
  nsock_socket *s = data;
  if (s->fd < 0) {
    char message[96];
    snprintf(message, sizeof message, "%s: socket is closed", syscall);
    nsock_throw_message(env, EBADF, syscall, message);
    return NULL;
  }
  return s;
}

static napi_value make_int(napi_env env, int64_t value) {
  napi_value result = NULL;
  if (napi_create_int64(env, value, &result) != napi_ok) napi_throw_error(env, NULL, "nsock: cannot create number");
  return result;
}

static napi_value make_undefined(napi_env env) {
  napi_value result = NULL;
  napi_get_undefined(env, &result);
  return result;
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void free_if_unused(nsock_socket *s) {
  if (s->finalized && !s->poll_closing) {
    nsock_area_free(&s->area);
    free(s);
  }
}

void nsock_release_if_idle(nsock_socket *s) {
  if (s->delivering > 0 || s->polling) return;
  if (s->callback != NULL) {
    napi_delete_reference(s->env, s->callback);
    s->callback = NULL;
  }
  if (s->async_context != NULL) {
    napi_async_destroy(s->env, s->async_context);
    s->async_context = NULL;
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  nsock_socket *s = handle->data;
  s->poll_closing = 0;
  s->poll_initialized = 0;
  free_if_unused(s);
}

static void environment_teardown(void *data);

/* Stops polling before the fd goes away: libuv must not watch a closed (or reused) descriptor. */
static void close_socket(nsock_socket *s, int from_teardown) {
  if (s->fd < 0) return;
  s->polling = 0;
  if (s->poll_initialized && !s->poll_closing) {
    uv_poll_stop(&s->poll);
    s->poll_closing = 1;
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  }
  close(s->fd);
  s->fd = -1;
  if (s->cleanup_hook && !from_teardown) napi_remove_env_cleanup_hook(s->env, environment_teardown, s);
  s->cleanup_hook = 0;
  nsock_release_if_idle(s);
  nsock_area_free(&s->area);
}

static void environment_teardown(void *data) {
  nsock_socket *s = data;
  s->cleanup_hook = 0;
  close_socket(s, 1);
}

static void finalize_socket(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nsock_socket *s = data;
  close_socket(s, 0);
  s->finalized = 1;
  free_if_unused(s);
}

/* ---- exported functions ------------------------------------------------------------------ */

static napi_value js_set_error_class(napi_env env, napi_callback_info info) {
  call_args a;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  if (nsock_set_error_class(env, a.argv[0]) != napi_ok) napi_throw_error(env, NULL, "nsock: cannot keep the error class");
  return make_undefined(env);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  call_args a;
  int32_t domain, type, protocol;
  if (get_args(env, info, &a, 3) != 0) return NULL;
  if (get_int(env, a.argv[0], "domain must be an integer", &domain) != 0) return NULL;
  if (get_int(env, a.argv[1], "type must be an integer", &type) != 0) return NULL;
  if (get_int(env, a.argv[2], "protocol must be an integer", &protocol) != 0) return NULL;
  nsock_socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    nsock_throw(env, ENOMEM, "socket");
    return NULL;
  }
  s->fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (s->fd < 0) {
    int err = errno;
    free(s);
    nsock_throw(env, err, "socket");
    return NULL;
  }
  s->env = env;
  s->referenced = 1;
  napi_value handle;
  if (napi_create_external(env, s, finalize_socket, NULL, &handle) != napi_ok) {
    close(s->fd);
    free(s);
    napi_throw_error(env, NULL, "nsock: cannot create socket handle");
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, environment_teardown, s) == napi_ok) s->cleanup_hook = 1;
  return handle;
}

static napi_value js_fd(napi_env env, napi_callback_info info) {
  call_args a;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "fd");
  return s == NULL ? NULL : make_int(env, s->fd);
}

static napi_value address_call(napi_env env, napi_callback_info info, int connecting) {
  const char *syscall = connecting ? "connect" : "bind";
  call_args a;
  void *address;
  socklen_t length;
  if (get_args(env, info, &a, 2) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, syscall);
  if (s == NULL || get_address(env, &a, 1, &address, &length) != 0) return NULL;
  if (address == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "address must be a Buffer");
    return NULL;
  }
  int rc;
  do {
    rc = connecting ? connect(s->fd, address, length) : bind(s->fd, address, length);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    nsock_throw(env, errno, syscall);
    return NULL;
  }
  return make_undefined(env);
}

static napi_value js_bind(napi_env env, napi_callback_info info) { return address_call(env, info, 0); }
static napi_value js_connect(napi_env env, napi_callback_info info) { return address_call(env, info, 1); }

static napi_value js_getsockname(napi_env env, napi_callback_info info) {
  call_args a;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "getsockname");
  if (s == NULL) return NULL;
  struct sockaddr_storage address;
  socklen_t length = sizeof address;
  if (getsockname(s->fd, (struct sockaddr *)&address, &length) != 0) {
    nsock_throw(env, errno, "getsockname");
    return NULL;
  }
  if (length > sizeof address) length = sizeof address;
  napi_value result;
  if (napi_create_buffer_copy(env, length, &address, NULL, &result) != napi_ok) {
    napi_throw_error(env, NULL, "nsock: cannot create Buffer");
    return NULL;
  }
  return result;
}

static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  call_args a;
  int32_t level, name, number;
  if (get_args(env, info, &a, 4) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "setsockopt");
  if (s == NULL) return NULL;
  if (get_int(env, a.argv[1], "level must be an integer", &level) != 0) return NULL;
  if (get_int(env, a.argv[2], "name must be an integer", &name) != 0) return NULL;
  void *value;
  size_t length;
  if (is_buffer(env, a.argv[3])) {
    if (get_bytes(env, a.argv[3], "value must be a Buffer or an integer", &value, &length) != 0) return NULL;
  } else {
    if (get_int(env, a.argv[3], "value must be a Buffer or an integer", &number) != 0) return NULL;
    value = &number;
    length = sizeof number;
  }
  if (setsockopt(s->fd, level, name, value, (socklen_t)length) != 0) {
    nsock_throw(env, errno, "setsockopt");
    return NULL;
  }
  return make_undefined(env);
}

static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  call_args a;
  int32_t level, name, length;
  if (get_args(env, info, &a, 4) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "getsockopt");
  if (s == NULL) return NULL;
  if (get_int(env, a.argv[1], "level must be an integer", &level) != 0) return NULL;
  if (get_int(env, a.argv[2], "name must be an integer", &name) != 0) return NULL;
  if (get_int(env, a.argv[3], "length must be an integer", &length) != 0) return NULL;
  if (length < 0 || length > 65536) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "getsockopt length must be 0..65536");
    return NULL;
  }
  char *value = calloc(1, (size_t)length + 1);
  if (value == NULL) {
    nsock_throw(env, ENOMEM, "getsockopt");
    return NULL;
  }
  socklen_t actual = (socklen_t)length;
  napi_value result = NULL;
  if (getsockopt(s->fd, level, name, value, &actual) != 0) {
    nsock_throw(env, errno, "getsockopt");
  } else if (napi_create_buffer_copy(env, actual < (socklen_t)length ? actual : (socklen_t)length, value, NULL,
                                     &result) != napi_ok) {
    napi_throw_error(env, NULL, "nsock: cannot create Buffer");
    result = NULL;
  }
  free(value);
  return result;
}

/* Counts the iovecs a datagram needs: one for a Buffer, one per element for an array. */
static int datagram_parts(napi_env env, napi_value datagram, uint32_t *parts) {
  bool array = false;
  if (napi_is_array(env, datagram, &array) != napi_ok) return throw_failure(env, "napi_is_array");
  if (!array) {
    if (!is_buffer(env, datagram)) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "datagram must be a Buffer or an array of Buffers");
      return -1;
    }
    *parts = 1;
    return 0;
  }
  if (napi_get_array_length(env, datagram, parts) != napi_ok) return throw_failure(env, "napi_get_array_length");
  if (*parts > NSOCK_MAX_VECTORS) {
    char message[160];
    snprintf(message, sizeof message, "sendmsg: %u buffers exceed the limit of %d iovecs per datagram", *parts,
             NSOCK_MAX_VECTORS);
    nsock_throw_message(env, EMSGSIZE, "sendmsg", message);
    return -1;
  }
  return 0;
}

static int fill_vectors(napi_env env, napi_value datagram, struct iovec *vectors, uint32_t parts) {
  bool array = false;
  if (napi_is_array(env, datagram, &array) != napi_ok) return throw_failure(env, "napi_is_array");
  if (!array) return get_bytes(env, datagram, "datagram must be a Buffer", &vectors[0].iov_base, &vectors[0].iov_len);
  for (uint32_t i = 0; i < parts; i++) {
    napi_value part;
    if (napi_get_element(env, datagram, i, &part) != napi_ok) return throw_failure(env, "napi_get_element");
    if (get_bytes(env, part, "every part of a datagram must be a Buffer", &vectors[i].iov_base, &vectors[i].iov_len) != 0)
      return -1;
  }
  return 0;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  call_args a;
  if (get_args(env, info, &a, 2) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "sendmsg");
  if (s == NULL) return NULL;
  void *address;
  socklen_t address_length;
  if (get_address(env, &a, 2, &address, &address_length) != 0) return NULL;
  uint32_t parts;
  if (datagram_parts(env, a.argv[1], &parts) != 0) return NULL;
  struct iovec vectors[NSOCK_MAX_VECTORS];
  if (fill_vectors(env, a.argv[1], vectors, parts) != 0) return NULL;
  struct msghdr message = {
      .msg_name = address, .msg_namelen = address_length, .msg_iov = vectors, .msg_iovlen = parts};
  ssize_t sent;
  do {
    sent = sendmsg(s->fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    nsock_throw(env, errno, "sendmsg");
    return NULL;
  }
  return make_int(env, sent);
}

/* send_chunk's result when a JS exception (a bad datagram) is pending. */
#define JS_EXCEPTION INT_MIN

/* One sendmmsg for datagrams [first, first + count); returns how many the kernel took, -errno,
 * or JS_EXCEPTION. */
static int send_chunk(napi_env env, nsock_socket *s, napi_value list, uint32_t first, uint32_t count,
                      void *address, socklen_t address_length) {
  uint32_t total = 0;
  uint32_t *parts = malloc(count * sizeof *parts);
  if (parts == NULL) return -ENOMEM;
  for (uint32_t i = 0; i < count; i++) {
    napi_value datagram;
    if (napi_get_element(env, list, first + i, &datagram) != napi_ok || datagram_parts(env, datagram, &parts[i]) != 0) {
      free(parts);
      return JS_EXCEPTION;
    }
    total += parts[i];
  }
  struct mmsghdr *headers = calloc(count, sizeof *headers);
  struct iovec *vectors = malloc((total ? total : 1) * sizeof *vectors);
  int result = -ENOMEM;
  if (headers != NULL && vectors != NULL) {
    uint32_t offset = 0;
    result = 0;
    for (uint32_t i = 0; i < count && result == 0; i++) {
      napi_value datagram;
      if (napi_get_element(env, list, first + i, &datagram) != napi_ok ||
          fill_vectors(env, datagram, vectors + offset, parts[i]) != 0) {
        result = JS_EXCEPTION;
        break;
      }
      headers[i].msg_hdr.msg_name = address;
      headers[i].msg_hdr.msg_namelen = address_length;
      headers[i].msg_hdr.msg_iov = vectors + offset;
      headers[i].msg_hdr.msg_iovlen = parts[i];
      offset += parts[i];
    }
    if (result == 0) {
      do {
        result = sendmmsg(s->fd, headers, count, MSG_DONTWAIT | MSG_NOSIGNAL);
      } while (result < 0 && errno == EINTR);
      if (result < 0) result = -errno;
    }
  }
  free(parts);
  free(headers);
  free(vectors);
  return result;
}

static napi_value js_send_many(napi_env env, napi_callback_info info) {
  call_args a;
  if (get_args(env, info, &a, 2) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "sendmmsg");
  if (s == NULL) return NULL;
  void *address;
  socklen_t address_length;
  if (get_address(env, &a, 2, &address, &address_length) != 0) return NULL;
  bool array = false;
  uint32_t length = 0;
  if (napi_is_array(env, a.argv[1], &array) != napi_ok || !array ||
      napi_get_array_length(env, a.argv[1], &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "datagrams must be an array");
    return NULL;
  }
  /* Chunks of UIO_MAXIOV datagrams, the most one sendmmsg takes; stops at the first short chunk. */
  uint32_t sent = 0;
  while (sent < length) {
    uint32_t count = length - sent < NSOCK_MAX_VECTORS ? length - sent : NSOCK_MAX_VECTORS;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) {
      napi_throw_error(env, NULL, "nsock: cannot open a handle scope");
      return NULL;
    }
    int rc = send_chunk(env, s, a.argv[1], sent, count, address, address_length);
    napi_close_handle_scope(env, scope);
    if (rc == JS_EXCEPTION) return NULL;
    if (rc < 0) {
      /* Datagrams already sent cannot be unsent: report them and leave the error for the next call. */
      if (sent > 0) break;
      nsock_throw(env, -rc, "sendmmsg");
      return NULL;
    }
    sent += (uint32_t)rc;
    if ((uint32_t)rc < count) break;
  }
  return make_int(env, sent);
}

static int get_receive_options(napi_env env, call_args *a, size_t first, nsock_receive_options *o) {
  int32_t batch, size;
  if (get_int(env, a->argv[first], "batch must be an integer", &batch) != 0) return -1;
  if (get_int(env, a->argv[first + 1], "bufferSize must be an integer", &size) != 0) return -1;
  if (get_bool(env, a->argv[first + 2], "address must be a boolean", &o->want_address) != 0) return -1;
  if (get_bool(env, a->argv[first + 3], "control must be a boolean", &o->want_control) != 0) return -1;
  if (batch < 1 || batch > NSOCK_MAX_VECTORS || size < 1 || size > NSOCK_MAX_BUFFER_SIZE) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "batch must be 1..1024 and bufferSize 1..16 MiB");
    return -1;
  }
  o->batch = batch;
  o->buffer_size = size;
  return 0;
}

static napi_value js_receive(napi_env env, napi_callback_info info) {
  call_args a;
  nsock_receive_options options;
  if (get_args(env, info, &a, 5) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "recvmmsg");
  if (s == NULL || get_receive_options(env, &a, 1, &options) != 0) return NULL;
  int n = nsock_receive_batch(s, &options);
  if (n < 0) {
    nsock_throw(env, -n, "recvmmsg");
    return NULL;
  }
  napi_value result;
  if (nsock_batch_to_js(env, &s->area, n, &result) != napi_ok) {
    napi_throw_error(env, NULL, "nsock: cannot create received datagrams");
    return NULL;
  }
  return result;
}

static napi_value js_start(napi_env env, napi_callback_info info) {
  call_args a;
  nsock_receive_options options;
  napi_valuetype type;
  if (get_args(env, info, &a, 6) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "uv_poll_start");
  if (s == NULL) return NULL;
  if (napi_typeof(env, a.argv[1], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return NULL;
  }
  if (get_receive_options(env, &a, 2, &options) != 0) return NULL;
  if (nsock_area_prepare(&s->area, &options) != 0) {
    nsock_throw(env, ENOMEM, "recvmmsg");
    return NULL;
  }
  if (!s->poll_initialized) {
    uv_loop_t *loop;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      napi_throw_error(env, NULL, "nsock: no event loop");
      return NULL;
    }
    int rc = uv_poll_init(loop, &s->poll, s->fd);
    if (rc != 0) {
      nsock_throw(env, -rc, "uv_poll_init");
      return NULL;
    }
    s->poll.data = s;
    s->poll_initialized = 1;
    if (!s->referenced) uv_unref((uv_handle_t *)&s->poll);
  }
  napi_ref callback;
  if (napi_create_reference(env, a.argv[1], 1, &callback) != napi_ok) {
    napi_throw_error(env, NULL, "nsock: cannot keep the callback");
    return NULL;
  }
  if (s->async_context == NULL) {
    napi_value name;
    if (napi_create_string_utf8(env, "NativeSocket", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_async_init(env, NULL, name, &s->async_context) != napi_ok) {
      napi_delete_reference(env, callback);
      napi_throw_error(env, NULL, "nsock: cannot create an async context");
      return NULL;
    }
  }
  int rc = uv_poll_start(&s->poll, UV_READABLE, nsock_poll_callback);
  if (rc != 0) {
    napi_delete_reference(env, callback);
    nsock_release_if_idle(s);
    nsock_throw(env, -rc, "uv_poll_start");
    return NULL;
  }
  if (s->callback != NULL) napi_delete_reference(env, s->callback);
  s->callback = callback;
  s->poll_options = options;
  s->polling = 1;
  return make_undefined(env);
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  call_args a;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "uv_poll_stop");
  if (s == NULL) return NULL;
  if (s->polling) {
    uv_poll_stop(&s->poll);
    s->polling = 0;
  }
  nsock_release_if_idle(s);
  return make_undefined(env);
}

static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  call_args a;
  int referenced;
  if (get_args(env, info, &a, 2) != 0) return NULL;
  nsock_socket *s = get_socket(env, &a, "uv_ref");
  if (s == NULL || get_bool(env, a.argv[1], "ref must be a boolean", &referenced) != 0) return NULL;
  s->referenced = referenced;
  if (s->poll_initialized) {
    if (referenced) uv_ref((uv_handle_t *)&s->poll);
    else uv_unref((uv_handle_t *)&s->poll);
  }
  return make_undefined(env);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  call_args a;
  napi_valuetype type;
  void *data = NULL;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  if (napi_typeof(env, a.argv[0], &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, a.argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a native socket handle");
    return NULL;
  }
  close_socket(data, 0);
  return make_undefined(env);
}

static napi_value js_interface_index(napi_env env, napi_callback_info info) {
  call_args a;
  char name[IF_NAMESIZE + 1];
  size_t length = 0;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  if (napi_get_value_string_utf8(env, a.argv[0], name, sizeof name, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "interface name must be a string");
    return NULL;
  }
  /* A longer name was cut to fit: no interface can have it. */
  unsigned index = length < IF_NAMESIZE ? if_nametoindex(name) : 0;
  if (index == 0) {
    char message[IF_NAMESIZE + 64];
    snprintf(message, sizeof message, "if_nametoindex: no such interface '%s'", name);
    nsock_throw_message(env, ENODEV, "if_nametoindex", message);
    return NULL;
  }
  return make_int(env, index);
}

static napi_value js_interface_name(napi_env env, napi_callback_info info) {
  call_args a;
  int32_t index;
  if (get_args(env, info, &a, 1) != 0) return NULL;
  if (get_int(env, a.argv[0], "interface index must be an integer", &index) != 0) return NULL;
  char name[IF_NAMESIZE];
  if (index <= 0 || if_indextoname((unsigned)index, name) == NULL) {
    char message[96];
    snprintf(message, sizeof message, "if_indextoname: no interface with index %d", index);
    nsock_throw_message(env, ENXIO, "if_indextoname", message);
    return NULL;
  }
  napi_value result;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &result) != napi_ok) return NULL;
  return result;
}

/* A worker that exits unloads its addons before its loop runs the last close callbacks, which
 * point into this library: pin it for the life of the process. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)pin_library, &info) != 0 && info.dli_fname != NULL) {
    dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  }
}

NAPI_MODULE_INIT() {
  pin_library();
  napi_property_descriptor functions[] = {
      {"setErrorClass", NULL, js_set_error_class, NULL, NULL, NULL, napi_enumerable, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"fd", NULL, js_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockname", NULL, js_getsockname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendMany", NULL, js_send_many, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, js_receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stop", NULL, js_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRef", NULL, js_set_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"interfaceIndex", NULL, js_interface_index, NULL, NULL, NULL, napi_enumerable, NULL},
      {"interfaceName", NULL, js_interface_name, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) {
    napi_throw_error(env, NULL, "nsock: cannot define exports");
    return NULL;
  }
  return exports;
}
