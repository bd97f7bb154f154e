package org.carevisor.manager.ups;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class UpsTargetTest {
    @ParameterizedTest
    @CsvSource({"serverroom@ups1.hospital.local,serverroom@ups1.hospital.local",
            "a@127.0.0.1:13493,a@127.0.0.1:13493", "rack-2.b@[::1]:3493,rack-2.b@[0:0:0:0:0:0:0:1]", "x@10.0.0.5:3493,x@10.0.0.5"})
    void parses(String text, String canonical) {
        assertThat(UpsTarget.parse(text).toString()).isEqualTo(canonical);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"ups|must look like NAME@HOST", "@host|must look like NAME@HOST",
            "bad name@host|must be 1-64 letters", "u@host:0|the port must be a number from 1 to 65535",
            "u@host:99999|the port", "u@user@host|--ups 'u@user@host'", "u@[::1|closing ']'",
            "u@host/path|--ups 'u@host/path'", "u@host:12:13|--ups 'u@host:12:13'"})
    void refuses(String text, String message) {
        assertThatThrownBy(() -> UpsTarget.parse(text)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void listsAreBounded() {
        assertThat(UpsTarget.parseList("")).isEmpty();
        assertThat(UpsTarget.parseList("a@h1, b@h2")).hasSize(2);
        assertThatThrownBy(() -> UpsTarget.parseList("a@h1,a@h1")).hasMessageContaining("twice");
        StringBuilder many = new StringBuilder();
        for (int i = 0; i < 17; i++) {
            many.append(i == 0 ? "" : ",").append("u").append(i).append("@h");
        }
        assertThatThrownBy(() -> UpsTarget.parseList(many.toString())).hasMessageContaining("at most 16");
    }
}
