package org.carevisor.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

/** The JSON mapping used on both sides of the agent protocol. Thread-safe once built. */
public final class ProtocolJson {
    private static final ObjectMapper MAPPER = configure(new ObjectMapper());

    private ProtocolJson() {
    }

    /** A shared mapper; unknown fields are ignored so that newer peers of the same version can add fields. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** Applies the protocol conventions (ISO timestamps, no nulls) to a mapper. */
    public static ObjectMapper configure(ObjectMapper mapper) {
        return mapper.registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .setSerializationInclusion(JsonInclude.Include.NON_NULL);
    }
}
