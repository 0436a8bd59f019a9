/* Receiving: recvmmsg into reused buffers, copies into fresh Buffers, and the uv_poll callback
 * that delivers one JS array per round and turns POLLERR (a netlink overrun) into an error event. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nsock.h"

/* Rounds per wake-up in normal operation: epoll is level-triggered, so leftovers wake us again
 * and other handles get their turn. */
#define NORMAL_ROUNDS 16
/* After an error the queue is drained completely: a congested netlink socket drops every new
 * unicast until it is read empty, so a retry sent before the drain would get no reply. */
#define DRAIN_ROUNDS 4096

void nsock_area_free(nsock_receive_area *area) {
  free(area->headers);
  free(area->vectors);
  free(area->addresses);
  free(area->controls);
  free(area->data);
  memset(area, 0, sizeof *area);
}

int nsock_area_prepare(nsock_receive_area *area, const nsock_receive_options *options) {
  if (area->data != NULL && memcmp(&area->options, options, sizeof *options) == 0) return 0;
  nsock_area_free(area);
  size_t batch = (size_t)options->batch;
  area->headers = calloc(batch, sizeof *area->headers);
  area->vectors = calloc(batch, sizeof *area->vectors);
  area->addresses = calloc(batch, sizeof *area->addresses);
  area->controls = malloc(batch * NSOCK_CONTROL_SIZE);
  area->data = malloc(batch * (size_t)options->buffer_size);
  if (!area->headers || !area->vectors || !area->addresses || !area->controls || !area->data) {
    nsock_area_free(area);
    return -ENOMEM;
  }
  area->options = *options;
  for (size_t i = 0; i < batch; i++) {
    area->vectors[i].iov_base = area->data + i * (size_t)options->buffer_size;
    area->vectors[i].iov_len = (size_t)options->buffer_size;
    area->headers[i].msg_hdr.msg_iov = &area->vectors[i];
    area->headers[i].msg_hdr.msg_iovlen = 1;
  }
  return 0;
}

int nsock_receive_batch(nsock_socket *s, const nsock_receive_options *options) {
  if (s->fd < 0) return -EBADF;
  int rc = nsock_area_prepare(&s->area, options);
  if (rc != 0) return rc;
  nsock_receive_area *area = &s->area;
  for (int i = 0; i < options->batch; i++) {
    struct msghdr *h = &area->headers[i].msg_hdr;
    /* The kernel overwrites these lengths, so they are reset before every call. */
    h->msg_name = options->want_address ? &area->addresses[i] : NULL;
    h->msg_namelen = options->want_address ? sizeof area->addresses[i] : 0;
    h->msg_control = options->want_control ? area->controls + (size_t)i * NSOCK_CONTROL_SIZE : NULL;
    h->msg_controllen = options->want_control ? NSOCK_CONTROL_SIZE : 0;
    h->msg_flags = 0;
    area->headers[i].msg_len = 0;
  }
  int n;
  do {
    n = recvmmsg(s->fd, area->headers, (unsigned)options->batch, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
  return n;
}

napi_status nsock_batch_to_js(napi_env env, const nsock_receive_area *area, int count, napi_value *result) {
  napi_status status = napi_create_array_with_length(env, (size_t)count * 4, result);
  if (status != napi_ok) return status;
  napi_value null_value;
  status = napi_get_null(env, &null_value);
  if (status != napi_ok) return status;
  size_t size = (size_t)area->options.buffer_size;
  for (int i = 0; i < count; i++) {
    const struct mmsghdr *m = &area->headers[i];
    size_t length = m->msg_len < size ? m->msg_len : size;
    napi_value data, address = null_value, control = null_value, flags;
    status = napi_create_buffer_copy(env, length, area->data + (size_t)i * size, NULL, &data);
    if (status != napi_ok) return status;
    if (area->options.want_address && m->msg_hdr.msg_namelen > 0) {
      size_t name_length = m->msg_hdr.msg_namelen;
      if (name_length > sizeof(struct sockaddr_storage)) name_length = sizeof(struct sockaddr_storage);
      status = napi_create_buffer_copy(env, name_length, &area->addresses[i], NULL, &address);
      if (status != napi_ok) return status;
    }
    if (area->options.want_control) {
      status = napi_create_buffer_copy(env, m->msg_hdr.msg_controllen,
                                       area->controls + (size_t)i * NSOCK_CONTROL_SIZE, NULL, &control);
      if (status != napi_ok) return status;
    }
    status = napi_create_int32(env, m->msg_hdr.msg_flags, &flags);
    if (status != napi_ok) return status;
    uint32_t base = (uint32_t)i * 4;
    if ((status = napi_set_element(env, *result, base, data)) != napi_ok) return status;
    if ((status = napi_set_element(env, *result, base + 1, address)) != napi_ok) return status;
    if ((status = napi_set_element(env, *result, base + 2, control)) != napi_ok) return status;
    if ((status = napi_set_element(env, *result, base + 3, flags)) != napi_ok) return status;
  }
  return napi_ok;
}

/* An exception thrown by a JS listener cannot propagate into libuv: hand it to Node's
 * uncaught-exception machinery, exactly as an exception in any other event listener. */
static void surface_exception(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value exception;
  if (napi_get_and_clear_last_exception(env, &exception) == napi_ok) napi_fatal_exception(env, exception);
}

/* Calls callback(error, flat) in a handle scope; returns 0 to go on, -1 to end this wake-up. */
static int call_js(nsock_socket *s, int count, int err, const char *syscall) {
  napi_env env = s->env;
  if (s->callback == NULL) return -1;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return -1;
  int outcome = -1;
  napi_value callback, receiver, args[2];
  if (napi_get_reference_value(env, s->callback, &callback) != napi_ok || callback == NULL) goto done;
  /* napi_make_callback converts the receiver to an object: undefined would throw. */
  if (napi_get_global(env, &receiver) != napi_ok) goto done;
  if (err != 0) {
    args[0] = nsock_error(env, err, syscall);
    if (args[0] == NULL || napi_get_null(env, &args[1]) != napi_ok) goto done;
  } else {
    if (napi_get_null(env, &args[0]) != napi_ok) goto done;
    if (nsock_batch_to_js(env, &s->area, count, &args[1]) != napi_ok) goto done;
  }
  s->delivering++;
  napi_status status = napi_make_callback(env, s->async_context, receiver, callback, 2, args, NULL);
  s->delivering--;
  outcome = status == napi_ok ? 0 : -1;
done:
  surface_exception(env);
  napi_close_handle_scope(env, scope);
  return outcome;
}

/* The socket's pending error (SO_ERROR reads and clears it). */
static int take_socket_error(int fd) {
  int err = 0;
  socklen_t length = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &length) != 0) return errno;
  return err;
}

/* With IP_RECVERR the error queue keeps POLLERR raised until read; the API has no use for its
 * entries, so they are dropped rather than waking the loop forever. Returns how many. */
static int discard_error_queue(int fd) {
  char data[256], control[256];
  int count = 0;
  while (count < DRAIN_ROUNDS) {
    struct iovec vector = {data, sizeof data};
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0 && errno != EINTR) break;
    count++;
  }
  return count;
}

void nsock_poll_callback(uv_poll_t *handle, int status, int events) {
  (void)events;
  nsock_socket *s = handle->data;
  if (s == NULL || s->fd < 0 || !s->polling) return;
  int reported = 0;
  int draining = 0;
  int rearm_error = 0;
  if (status < 0) {
    /* libuv reports POLLERR as UV_EBADF and has stopped the watcher: re-arm it, drain, report. */
    reported = take_socket_error(s->fd);
    if (reported == 0 && discard_error_queue(s->fd) == 0) reported = ENOBUFS;
    draining = 1;
    rearm_error = -uv_poll_start(&s->poll, UV_READABLE, nsock_poll_callback);
  }
  int rounds = 0;
  while (s->fd >= 0 && rounds < (draining ? DRAIN_ROUNDS : NORMAL_ROUNDS)) {
    rounds++;
    int n = nsock_receive_batch(s, &s->poll_options);
    if (n == 0) break;
    if (n < 0) {
      if (reported == 0) reported = -n;
      /* ENOBUFS means datagrams were dropped, not that reading stops: keep draining. */
      if (-n == ENOBUFS) {
        draining = 1;
        continue;
      }
      break;
    }
    if (call_js(s, n, 0, NULL) != 0) break;
    if (!s->polling) break;
    if (!draining && n < s->poll_options.batch) break;
  }
  if (reported != 0 && s->fd >= 0) call_js(s, 0, reported, "recvmmsg");
  /* Without a watcher no more datagrams arrive: say so rather than go quiet. */
  if (rearm_error != 0 && s->fd >= 0) call_js(s, 0, rearm_error, "uv_poll_start");
  nsock_release_if_idle(s);
}
