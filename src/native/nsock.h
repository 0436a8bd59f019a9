/* Shared declarations of the nsock addon: generic sockets for Node.js, no protocol knowledge. */
#ifndef NSOCK_H
#define NSOCK_H

#include <node_api.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

/* UIO_MAXIOV: the kernel's limit for iovecs per sendmsg and messages per sendmmsg/recvmmsg. */
#define NSOCK_MAX_VECTORS 1024
#define NSOCK_MAX_BUFFER_SIZE (16 * 1024 * 1024)
/* Room for the ancillary data the project asks for (packet info, TTL, hop limit, timestamps). */
#define NSOCK_CONTROL_SIZE 512

typedef struct {
  int batch;
  int buffer_size;
  int want_address;
  int want_control;
} nsock_receive_options;

/* Receive buffers for one recvmmsg call, reused across calls; datagrams are copied out of them. */
typedef struct {
  nsock_receive_options options;
  struct mmsghdr *headers;
  struct iovec *vectors;
  struct sockaddr_storage *addresses;
  char *controls;
  char *data;
} nsock_receive_area;

typedef struct {
  napi_env env;
  int fd; /* -1 once closed */
  uv_poll_t poll;
  int poll_initialized;
  int poll_closing;   /* uv_close issued, close callback not yet run */
  int polling;
  int referenced;     /* whether an active poll keeps the event loop alive */
  int finalized;      /* the JS external is gone */
  int delivering;     /* inside napi_make_callback: JS resources must outlive the call */
  int cleanup_hook;   /* registered for environment teardown */
  nsock_receive_options poll_options;
  nsock_receive_area area;
  napi_ref callback;
  napi_async_context async_context;
} nsock_socket;

/* nsock_errors.c */
napi_value nsock_error(napi_env env, int err, const char *syscall);
void nsock_throw(napi_env env, int err, const char *syscall);
void nsock_throw_message(napi_env env, int err, const char *syscall, const char *message);
napi_status nsock_set_error_class(napi_env env, napi_value constructor);

/* nsock.c */
/* Drops the callback and async context once the socket is stopped and no delivery is running. */
void nsock_release_if_idle(nsock_socket *s);

/* nsock_receive.c */
int nsock_area_prepare(nsock_receive_area *area, const nsock_receive_options *options);
void nsock_area_free(nsock_receive_area *area);
/* recvmmsg once without blocking; returns the count (0 when nothing is queued) or -errno. */
int nsock_receive_batch(nsock_socket *s, const nsock_receive_options *options);
/* Flat array [data, address|null, control|null, flags] per datagram of the last batch. */
napi_status nsock_batch_to_js(napi_env env, const nsock_receive_area *area, int count, napi_value *result);
void nsock_poll_callback(uv_poll_t *handle, int status, int events);

#endif
