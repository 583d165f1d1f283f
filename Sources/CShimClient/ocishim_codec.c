/*
 * ocishim_codec.c - the ttrpc envelopes (Request, Response) and statuses.
 *
 * Pure functions of bytes: nothing here touches an fd.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <stdlib.h>
#include <string.h>

#include "ocishim_internal.h"
#include "ttrpc/ttrpc.pb-c.h"

/* The shared "" of empty status messages: no allocation for the common case,
 * and ocishim_status_clear() knows not to free it. */
static char empty_message[] = "";

void occ_status_set(ocishim_status *status, int32_t code, const char *message)
{
    status->code = code;
    status->message = empty_message;
    /* Out of memory loses only the text: the code is what programs act on. */
    if (message != NULL && message[0] != '\0') {
        char *copy = strdup(message);
        if (copy != NULL)
            status->message = copy;
    }
}

void ocishim_status_clear(ocishim_status *status)
{
    if (status == NULL)
        return;
    if (status->message != NULL && status->message != empty_message)
        free(status->message);
    status->code = 0;
    status->message = NULL;
}

void ocishim_message_free(ProtobufCMessage *msg)
{
    if (msg != NULL)
        protobuf_c_message_free_unpacked(msg, NULL);
}

uint8_t *occ_pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = msg != NULL ? protobuf_c_message_get_packed_size(msg) : 0;
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf != NULL && msg != NULL)
        protobuf_c_message_pack(msg, buf);
    return buf;
}

uint8_t *ocishim_request_encode(const char *method, const ProtobufCMessage *request, size_t *len)
{
    *len = 0;
    if (method == NULL)
        return NULL;
    size_t inner_len;
    uint8_t *inner = occ_pack(request, &inner_len);
    if (inner == NULL)
        return NULL;

    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    req.service = (char *)OCISHIM_SERVICE;
    req.method = (char *)method;
    req.payload.data = inner;
    req.payload.len = inner_len;
    uint8_t *out = occ_pack(&req.base, len);
    free(inner);
    if (out == NULL)
        *len = 0;
    return out;
}

/* protobuf-c wants a pointer even for zero bytes; any readable one will do. */
static const uint8_t no_bytes[1];

int occ_unpack(ocishim_client *c, const ProtobufCMessageDescriptor *desc, const uint8_t *data,
               size_t len, ProtobufCMessage **msg)
{
    *msg = protobuf_c_message_unpack(desc, NULL, len, len ? data : no_bytes);
    if (*msg == NULL) {
        occ_set_error(c, "%zu bytes do not decode as %s", len, desc->name);
        return -1;
    }
    return 0;
}

int ocishim_response_decode(const uint8_t *payload, size_t len, const ProtobufCMessageDescriptor *desc,
                            ProtobufCMessage **msg, ocishim_status *status)
{
    if (msg != NULL)
        *msg = NULL;
    if (status != NULL)
        occ_status_set(status, OCISHIM_CODE_CLIENT_ERROR, NULL);

    Ttrpc__Response *resp = ttrpc__response__unpack(NULL, len, len ? payload : no_bytes);
    if (resp == NULL)
        return -1;

    /* ttrpc leaves the status out when it is OK. */
    int32_t code = resp->status != NULL ? resp->status->code : OCISHIM_CODE_OK;
    const char *text = resp->status != NULL ? resp->status->message : NULL;
    int rc = 0;
    if (status != NULL)
        occ_status_set(status, code, text);
    if (code == OCISHIM_CODE_OK && desc != NULL && msg != NULL) {
        const ProtobufCBinaryData *p = &resp->payload;
        *msg = protobuf_c_message_unpack(desc, NULL, p->len, p->len ? p->data : no_bytes);
        if (*msg == NULL)
            rc = -2;
    }
    ttrpc__response__free_unpacked(resp, NULL);
    return rc;
}
