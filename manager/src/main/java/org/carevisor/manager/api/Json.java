package org.carevisor.manager.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.carevisor.protocol.ProtocolJson;

/**
 * JSON of the public API: strict on input (unknown fields, trailing tokens and nulls for primitives are
 * errors), ISO-8601 timestamps on output. Thread-safe.
 */
public final class Json {
    private static final ObjectMapper MAPPER = ProtocolJson.configure(new ObjectMapper())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_NUMBERS_FOR_ENUMS)
            .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);

    private Json() {
    }

    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** Reads a request body, turning every JSON problem into a 400 naming the field. */
    public static <T> T read(byte[] body, Class<T> type) {
        if (body == null || body.length == 0) {
            throw new ApiException(400, "body-missing", "The request needs a JSON body",
                    "this request needs a JSON object as body", null);
        }
        try {
            return MAPPER.readValue(body, type);
        } catch (JsonProcessingException e) {
            throw Problems.fromJson(e);
        } catch (java.io.IOException e) {
            throw new ApiException(400, "body-unreadable", "The request body cannot be read", e.getMessage(), null);
        }
    }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON", e);
        }
    }
}
