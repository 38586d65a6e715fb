/* libFuzzer: the device's POST /v1/provision handler, request body in,
 * status and body out, no socket. The agent holds the first vector case's
 * key and is in setup mode; a request that got through every check would
 * write the counter into a temporary state directory. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "owb/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct owb_agent *agent(void)
{
    static struct owb_agent a;
    static char dir[] = "/tmp/owb-fuzz-provision-XXXXXX";
    static int ready;
    uint8_t k[32];

    if (ready)
        return &a;
    if (owb_init() != OWB_OK || !mkdtemp(dir))
        abort();
    pthread_mutex_init(&a.mu, NULL);
    pthread_cond_init(&a.cv, NULL);
    a.cfg.state_dir = dir;
    a.kf = owb_keyfile_new();
    a.keys = owb_secret_alloc(sizeof *a.keys);
    a.job = owb_secret_alloc(sizeof *a.job);
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)i;
    strcpy(a.kf->device_id, "Omega-2231");
    memcpy(a.kf->device_key, k, 32);
    owb_kdf_bundle_key(a.keys->bundle_key, k);
    owb_kdf_checkin_key(a.keys->checkin_key, k);
    a.setup_open = true;
    a.cfg.listen = "192.168.3.1:80";
    a.port = 80;
    ready = 1;
    return &a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct owb_agent *a = agent();
    /* What the hand-off page sends: the agent's own Host, JSON. */
    static const char *headers[][2] = {{"Host", "192.168.3.1"},
                                       {"Content-Type", "application/json"}};
    struct owb_http_request req = {
        .method = "POST", .path = "/v1/provision", .fake_headers = headers, .n_fake_headers = 2};
    struct owb_http_response resp = {0};
    char *body = malloc(size + 1);

    if (!body || size > 8192) {
        free(body);
        return 0;
    }
    memcpy(body, data, size);
    body[size] = '\0';
    req.body = body;
    req.body_len = size;
    strcpy(req.client_addr, "127.0.0.1");
    /* Fresh state for every input: nothing applied, counter 0. */
    a->counter = 0;
    a->job_pending = false;
    a->state = OWB_STATE_SETUP;
    owb_agent_handle(a, &req, &resp);
    if (resp.status < 200 || resp.status > 599)
        abort();
    owb_http_response_release(&resp);
    free(body);
    return 0;
}
