/* The type table. Sizes are facts of the ggml/GGUF format; adding a type is adding a row. */
#include "qs_formats.h"

#include <strings.h>

#define ROW(id, nm, bs, ts, q, deq, qnt) [id] = {nm, bs, ts, q, deq, qnt}

static const qs_type_traits table[QS_TYPE_COUNT] = {
    ROW(QS_TYPE_F32, "F32", 1, 4, false, qs_dequant_f32, qs_quant_f32),
    ROW(QS_TYPE_F16, "F16", 1, 2, false, qs_dequant_f16, qs_quant_f16),
    ROW(QS_TYPE_BF16, "BF16", 1, 2, false, qs_dequant_bf16, qs_quant_bf16),
    ROW(QS_TYPE_Q4_0, "Q4_0", 32, 18, true, qs_dequant_q4_0, qs_quant_q4_0),
    ROW(QS_TYPE_Q4_1, "Q4_1", 32, 20, true, qs_dequant_q4_1, qs_quant_q4_1),
    ROW(QS_TYPE_Q5_0, "Q5_0", 32, 22, true, qs_dequant_q5_0, qs_quant_q5_0),
    ROW(QS_TYPE_Q5_1, "Q5_1", 32, 24, true, qs_dequant_q5_1, qs_quant_q5_1),
    ROW(QS_TYPE_Q8_0, "Q8_0", 32, 34, true, qs_dequant_q8_0, qs_quant_q8_0),
    ROW(QS_TYPE_Q8_1, "Q8_1", 32, 36, true, qs_dequant_q8_1, qs_quant_q8_1),
    ROW(QS_TYPE_Q2_K, "Q2_K", 256, 84, true, qs_dequant_q2_K, qs_quant_q2_K),
    ROW(QS_TYPE_Q3_K, "Q3_K", 256, 110, true, qs_dequant_q3_K, qs_quant_q3_K),
    ROW(QS_TYPE_Q4_K, "Q4_K", 256, 144, true, qs_dequant_q4_K, qs_quant_q4_K),
    ROW(QS_TYPE_Q5_K, "Q5_K", 256, 176, true, qs_dequant_q5_K, qs_quant_q5_K),
    ROW(QS_TYPE_Q6_K, "Q6_K", 256, 210, true, qs_dequant_q6_K, qs_quant_q6_K),
    ROW(QS_TYPE_Q8_K, "Q8_K", 256, 292, true, qs_dequant_q8_K, qs_quant_q8_K),
    ROW(QS_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66, true, NULL, NULL),
    ROW(QS_TYPE_IQ2_XS, "IQ2_XS", 256, 74, true, NULL, NULL),
    ROW(QS_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98, true, NULL, NULL),
    ROW(QS_TYPE_IQ1_S, "IQ1_S", 256, 50, true, NULL, NULL),
    ROW(QS_TYPE_IQ4_NL, "IQ4_NL", 32, 18, true, qs_dequant_iq4_nl, qs_quant_iq4_nl),
    ROW(QS_TYPE_IQ3_S, "IQ3_S", 256, 110, true, NULL, NULL),
    ROW(QS_TYPE_IQ2_S, "IQ2_S", 256, 82, true, NULL, NULL),
    ROW(QS_TYPE_IQ4_XS, "IQ4_XS", 256, 136, true, qs_dequant_iq4_xs, qs_quant_iq4_xs),
    ROW(QS_TYPE_I8, "I8", 1, 1, false, NULL, NULL),
    ROW(QS_TYPE_I16, "I16", 1, 2, false, NULL, NULL),
    ROW(QS_TYPE_I32, "I32", 1, 4, false, NULL, NULL),
    ROW(QS_TYPE_I64, "I64", 1, 8, false, NULL, NULL),
    ROW(QS_TYPE_F64, "F64", 1, 8, false, NULL, NULL),
    ROW(QS_TYPE_IQ1_M, "IQ1_M", 256, 56, true, NULL, NULL),
    ROW(QS_TYPE_TQ1_0, "TQ1_0", 256, 54, true, NULL, NULL),
    ROW(QS_TYPE_TQ2_0, "TQ2_0", 256, 66, true, NULL, NULL),
    ROW(QS_TYPE_MXFP4, "MXFP4", 32, 17, true, NULL, NULL),
    ROW(QS_TYPE_NVFP4, "NVFP4", 64, 36, true, NULL, NULL),
    ROW(QS_TYPE_Q1_0, "Q1_0", 128, 18, true, NULL, NULL),
    ROW(QS_TYPE_Q2_0, "Q2_0", 64, 18, true, NULL, NULL),
};

const qs_type_traits *qs_type_traits_get(int type_id) {
    if (type_id < 0 || type_id >= QS_TYPE_COUNT || table[type_id].name == NULL) return NULL;
    return &table[type_id];
}

bool qs_type_valid(int type_id) { return qs_type_traits_get(type_id) != NULL; }

const char *qs_type_name(int type_id) {
    const qs_type_traits *t = qs_type_traits_get(type_id);
    return t ? t->name : "?";
}

int qs_type_from_name(const char *name, qs_type *out) {
    if (!name) return QS_ERR;
    for (int i = 0; i < QS_TYPE_COUNT; i++) {
        if (table[i].name && strcasecmp(table[i].name, name) == 0) {
            *out = (qs_type)i;
            return QS_OK;
        }
    }
    return QS_ERR;
}

double qs_type_bpw(int type_id) {
    const qs_type_traits *t = qs_type_traits_get(type_id);
    return t ? (double)t->type_size * 8.0 / (double)t->blck_size : 0.0;
}

uint64_t qs_type_row_bytes(int type_id, int64_t n) {
    const qs_type_traits *t = qs_type_traits_get(type_id);
    if (!t || n < 0 || n % t->blck_size != 0) return 0;
    return (uint64_t)(n / t->blck_size) * (uint64_t)t->type_size;
}

bool qs_type_can_read(int type_id) {
    const qs_type_traits *t = qs_type_traits_get(type_id);
    return t && t->to_float;
}

bool qs_type_can_quantize(int type_id) {
    const qs_type_traits *t = qs_type_traits_get(type_id);
    return t && t->quantize && type_id != QS_TYPE_Q8_1 && type_id != QS_TYPE_Q8_K;
}

static const qs_type ladder[] = {
    QS_TYPE_Q2_K, QS_TYPE_Q3_K, QS_TYPE_IQ4_XS, QS_TYPE_Q4_0, QS_TYPE_IQ4_NL, QS_TYPE_Q4_1,
    QS_TYPE_Q4_K, QS_TYPE_Q5_0, QS_TYPE_Q5_1, QS_TYPE_Q5_K, QS_TYPE_Q6_K, QS_TYPE_Q8_0,
    QS_TYPE_BF16, QS_TYPE_F16, QS_TYPE_F32,
};

int qs_type_ladder(const qs_type **list) {
    *list = ladder;
    return (int)(sizeof ladder / sizeof ladder[0]);
}
