/* Chat templates: formatting matches llama.cpp's llama_chat_apply_template byte for byte;
 * recognition of real published templates; the prefix property the chat session relies on.
 *
 * Where the expected strings come from: FORMATTED below was printed by a small C++ harness
 * built outside this repository against llama.cpp's libllama (/work/ref/llama.cpp, the same
 * build as the reference tools), calling llama_chat_apply_template(NAME, conversation,
 * add_ass) for each family name, on the conversation in CONV (with and without add_ass, and
 * without the system message). The expected families in TEMPLATES are what llama.cpp's
 * llm_chat_detect_template returns for those strings (same harness), except where marked. */
#include "qs_test_util.h"

#include <stdlib.h>
#include <string.h>

#include "chat_template.h"

/* system + user + assistant + user; whitespace around texts exercises the families that trim */
static const qs_chat_msg CONV[4] = {
    {"system", "You are a helpful assistant."},
    {"user", "Hello!"},
    {"assistant", "  Hi there, how can I help?\n"},
    {"user", " Tell me a story. "},
};

static const struct {
    const char *name;
    const char *full;  /* CONV, add_ass */
    const char *noadd; /* CONV, no add_ass */
    const char *nosys; /* CONV without the system message, add_ass */
} FORMATTED[] = {
    {"chatml",
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n  Hi there, how can I help?\n<|im_end|>\n<|im_start|>user\n Tell me a story. <|im_end|>\n<|im_start|>assistant\n",
     "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n  Hi there, how can I help?\n<|im_end|>\n<|im_start|>user\n Tell me a story. <|im_end|>\n",
     "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n  Hi there, how can I help?\n<|im_end|>\n<|im_start|>user\n Tell me a story. <|im_end|>\n<|im_start|>assistant\n"},
    {"llama3",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there, how can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a story.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there, how can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a story.<|eot_id|>",
     "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there, how can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a story.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"llama2",
     "[INST] You are a helpful assistant.\nHello! [/INST]  Hi there, how can I help?\n</s>[INST]  Tell me a story.  [/INST]",
     "[INST] You are a helpful assistant.\nHello! [/INST]  Hi there, how can I help?\n</s>[INST]  Tell me a story.  [/INST]",
     "[INST] Hello! [/INST]  Hi there, how can I help?\n</s>[INST]  Tell me a story.  [/INST]"},
    {"llama2-sys",
     "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]  Hi there, how can I help?\n</s>[INST]  Tell me a story.  [/INST]",
     "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]  Hi there, how can I help?\n</s>[INST]  Tell me a story.  [/INST]",
     "[INST] Hello! [/INST]  Hi there, how can I help?\n</s>[INST]  Tell me a story.  [/INST]"},
    {"llama2-sys-bos",
     "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]  Hi there, how can I help?\n</s><s>[INST]  Tell me a story.  [/INST]",
     "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]  Hi there, how can I help?\n</s><s>[INST]  Tell me a story.  [/INST]",
     "[INST] Hello! [/INST]  Hi there, how can I help?\n</s><s>[INST]  Tell me a story.  [/INST]"},
    {"llama2-sys-strip",
     "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]Hi there, how can I help?</s>[INST] Tell me a story. [/INST]",
     "[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST]Hi there, how can I help?</s>[INST] Tell me a story. [/INST]",
     "[INST] Hello! [/INST]Hi there, how can I help?</s>[INST] Tell me a story. [/INST]"},
    {"mistral-v1",
     " [INST] You are a helpful assistant.\n\nHello! [/INST]   Hi there, how can I help?\n</s> [INST]  Tell me a story.  [/INST]",
     " [INST] You are a helpful assistant.\n\nHello! [/INST]   Hi there, how can I help?\n</s> [INST]  Tell me a story.  [/INST]",
     " [INST] Hello! [/INST]   Hi there, how can I help?\n</s> [INST]  Tell me a story.  [/INST]"},
    {"mistral-v3",
     "[INST] You are a helpful assistant.\n\nHello![/INST] Hi there, how can I help?</s>[INST]  Tell me a story. [/INST]",
     "[INST] You are a helpful assistant.\n\nHello![/INST] Hi there, how can I help?</s>[INST]  Tell me a story. [/INST]",
     "[INST] Hello![/INST] Hi there, how can I help?</s>[INST]  Tell me a story. [/INST]"},
    {"mistral-v3-tekken",
     "[INST]You are a helpful assistant.\n\nHello![/INST]  Hi there, how can I help?\n</s>[INST] Tell me a story. [/INST]",
     "[INST]You are a helpful assistant.\n\nHello![/INST]  Hi there, how can I help?\n</s>[INST] Tell me a story. [/INST]",
     "[INST]Hello![/INST]  Hi there, how can I help?\n</s>[INST] Tell me a story. [/INST]"},
    {"mistral-v7",
     "[SYSTEM_PROMPT] You are a helpful assistant.[/SYSTEM_PROMPT][INST] Hello![/INST]   Hi there, how can I help?\n</s>[INST]  Tell me a story. [/INST]",
     "[SYSTEM_PROMPT] You are a helpful assistant.[/SYSTEM_PROMPT][INST] Hello![/INST]   Hi there, how can I help?\n</s>[INST]  Tell me a story. [/INST]",
     "[INST] Hello![/INST]   Hi there, how can I help?\n</s>[INST]  Tell me a story. [/INST]"},
    {"mistral-v7-tekken",
     "[SYSTEM_PROMPT]You are a helpful assistant.[/SYSTEM_PROMPT][INST]Hello![/INST]  Hi there, how can I help?\n</s>[INST] Tell me a story. [/INST]",
     "[SYSTEM_PROMPT]You are a helpful assistant.[/SYSTEM_PROMPT][INST]Hello![/INST]  Hi there, how can I help?\n</s>[INST] Tell me a story. [/INST]",
     "[INST]Hello![/INST]  Hi there, how can I help?\n</s>[INST] Tell me a story. [/INST]"},
    {"zephyr",
     "<|system|>\nYou are a helpful assistant.<|endoftext|>\n<|user|>\nHello!<|endoftext|>\n<|assistant|>\n  Hi there, how can I help?\n<|endoftext|>\n<|user|>\n Tell me a story. <|endoftext|>\n<|assistant|>\n",
     "<|system|>\nYou are a helpful assistant.<|endoftext|>\n<|user|>\nHello!<|endoftext|>\n<|assistant|>\n  Hi there, how can I help?\n<|endoftext|>\n<|user|>\n Tell me a story. <|endoftext|>\n",
     "<|user|>\nHello!<|endoftext|>\n<|assistant|>\n  Hi there, how can I help?\n<|endoftext|>\n<|user|>\n Tell me a story. <|endoftext|>\n<|assistant|>\n"},
    {"gemma",
     "<start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n<start_of_turn>model\nHi there, how can I help?<end_of_turn>\n<start_of_turn>user\nTell me a story.<end_of_turn>\n<start_of_turn>model\n",
     "<start_of_turn>user\nYou are a helpful assistant.\n\nHello!<end_of_turn>\n<start_of_turn>model\nHi there, how can I help?<end_of_turn>\n<start_of_turn>user\nTell me a story.<end_of_turn>\n",
     "<start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\nHi there, how can I help?<end_of_turn>\n<start_of_turn>user\nTell me a story.<end_of_turn>\n<start_of_turn>model\n"},
    {"phi3",
     "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\n  Hi there, how can I help?\n<|end|>\n<|user|>\n Tell me a story. <|end|>\n<|assistant|>\n",
     "<|system|>\nYou are a helpful assistant.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\n  Hi there, how can I help?\n<|end|>\n<|user|>\n Tell me a story. <|end|>\n",
     "<|user|>\nHello!<|end|>\n<|assistant|>\n  Hi there, how can I help?\n<|end|>\n<|user|>\n Tell me a story. <|end|>\n<|assistant|>\n"},
};

/* Published templates (tokenizer_config.json chat_template of the model named; the llama.cpp
 * test-suite copies where noted there), with the family expected. */
static const struct {
    const char *model;
    const char *family;
    const char *jinja;
} TEMPLATES[] = {
    {"Qwen/Qwen2.5-7B-Instruct", "chatml",
        "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == 'syst"
        "em' %}\n        {{- messages[0]['content'] }}\n    {%- else %}\n        {{- 'You are Qwen, c"
        "reated by Alibaba Cloud. You are a helpful assistant.' }}\n    {%- endif %}\n    {{- \"\\n\\"
        "n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are"
        " provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n    {%- "
        "for tool in tools %}\n        {{- \"\\n\" }}\n        {{- tool | tojson }}\n    {%- endfor %"
        "}\n    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function nam"
        "e and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <fun"
        "ction-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n{%- el"
        "se %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + "
        "messages[0]['content'] + '<|im_end|>\\n' }}\n    {%- else %}\n        {{- '<|im_start|>syste"
        "m\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n "
        "   {%- endif %}\n{%- endif %}\n{%- for message in messages %}\n    {%- if (message.role == "
        "\"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant"
        "\" and not message.tool_calls) %}\n        {{- '<|im_start|>' + message.role + '\\n' + messa"
        "ge.content + '<|im_end|>' + '\\n' }}\n    {%- elif message.role == \"assistant\" %}\n       "
        " {{- '<|im_start|>' + message.role }}\n        {%- if message.content %}\n            {{- '"
        "\\n' + message.content }}\n        {%- endif %}\n        {%- for tool_call in message.tool_c"
        "alls %}\n            {%- if tool_call.function is defined %}\n                {%- set tool_c"
        "all = tool_call.function %}\n            {%- endif %}\n            {{- '\\n<tool_call>\\n{\""
        "name\": \"' }}\n            {{- tool_call.name }}\n            {{- '\", \"arguments\": ' }}"
        "\n            {{- tool_call.arguments | tojson }}\n            {{- '}\\n</tool_call>' }}\n  "
        "      {%- endfor %}\n        {{- '<|im_end|>\\n' }}\n    {%- elif message.role == \"tool\" %"
        "}\n        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n   "
        "         {{- '<|im_start|>user' }}\n        {%- endif %}\n        {{- '\\n<tool_response>\\n"
        "' }}\n        {{- message.content }}\n        {{- '\\n</tool_response>' }}\n        {%- if l"
        "oop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n            {{- '<|im_end|>\\n'"
        " }}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}"
        "\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n"},
    {"teknium/OpenHermes-2.5-Mistral-7B", "chatml",
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
        " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant"
        "\\n' }}{% endif %}"},
    {"meta-llama/Meta-Llama-3-8B-Instruct", "llama3",
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|star"
        "t_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|e"
        "ot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ con"
        "tent }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"},
    {"meta-llama/Llama-3.1-8B-Instruct", "llama3",
        "{{- bos_token }}\n{%- if custom_tools is defined %}\n    {%- set tools = custom_tools %}\n{%"
        "- endif %}\n{%- if not tools_in_user_message is defined %}\n    {%- set tools_in_user_messag"
        "e = true %}\n{%- endif %}\n{%- if not date_string is defined %}\n    {%- set date_string = "
        "\"26 Jul 2024\" %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %"
        "}\n{%- endif %}\n\n{#- This block extracts the system message, so we can slot it into the ri"
        "ght place. #}\n{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messa"
        "ges[0]['content']|trim %}\n    {%- set messages = messages[1:] %}\n{%- else %}\n    {%- set "
        "system_message = \"\" %}\n{%- endif %}\n\n{#- System message + builtin tools #}\n{{- \"<|sta"
        "rt_header_id|>system<|end_header_id|>\\n\\n\" }}\n{%- if builtin_tools is defined or tools i"
        "s not none %}\n    {{- \"Environment: ipython\\n\" }}\n{%- endif %}\n{%- if builtin_tools is"
        " defined %}\n    {{- \"Tools: \" + builtin_tools | reject('equalto', 'code_interpreter') | j"
        "oin(\", \") + \"\\n\\n\"}}\n{%- endif %}\n{{- \"Cutting Knowledge Date: December 2023\\n\" }"
        "}\n{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n{%- if tools is not none and not tool"
        "s_in_user_message %}\n    {{- \"You have access to the following functions. To call a functi"
        "on, please respond with JSON for a function call.\" }}\n    {{- 'Respond in the format {\"na"
        "me\": function name, \"parameters\": dictionary of argument name and its value}.' }}\n    {{"
        "- \"Do not use variables.\\n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(inde"
        "nt=4) }}\n        {{- \"\\n\\n\" }}\n    {%- endfor %}\n{%- endif %}\n{{- system_message }}"
        "\n{{- \"<|eot_id|>\" }}\n\n{#- Custom tools are passed in a user message with some extra gui"
        "dance #}\n{%- if tools_in_user_message and not tools is none %}\n    {#- Extract the first u"
        "ser message so we can plug it in here #}\n    {%- if messages | length != 0 %}\n        {%- "
        "set first_user_message = messages[0]['content']|trim %}\n        {%- set messages = messages"
        "[1:] %}\n    {%- else %}\n        {{- raise_exception(\"Cannot put tools in the first user m"
        "essage when there's no first user message!\") }}\n{%- endif %}\n    {{- '<|start_header_id|>"
        "user<|end_header_id|>\\n\\n' -}}\n    {{- \"Given the following functions, please respond wi"
        "th a JSON for a function call \" }}\n    {{- \"with its proper arguments that best answers t"
        "he given prompt.\\n\\n\" }}\n    {{- 'Respond in the format {\"name\": function name, \"para"
        "meters\": dictionary of argument name and its value}.' }}\n    {{- \"Do not use variables.\\"
        "n\\n\" }}\n    {%- for t in tools %}\n        {{- t | tojson(indent=4) }}\n        {{- \"\\n"
        "\\n\" }}\n    {%- endfor %}\n    {{- first_user_message + \"<|eot_id|>\"}}\n{%- endif %}\n\n"
        "{%- for message in messages %}\n    {%- if not (message.role == 'ipython' or message.role =="
        " 'tool' or 'tool_calls' in message) %}\n        {{- '<|start_header_id|>' + message['role'] "
        "+ '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}\n    {%- elif 'tool"
        "_calls' in message %}\n        {%- if not message.tool_calls|length == 1 %}\n            {{-"
        " raise_exception(\"This model only supports single tool-calls at once!\") }}\n        {%- en"
        "dif %}\n        {%- set tool_call = message.tool_calls[0].function %}\n        {%- if builti"
        "n_tools is defined and tool_call.name in builtin_tools %}\n            {{- '<|start_header_i"
        "d|>assistant<|end_header_id|>\\n\\n' -}}\n            {{- \"<|python_tag|>\" + tool_call.nam"
        "e + \".call(\" }}\n            {%- for arg_name, arg_val in tool_call.arguments | items %}\n"
        "                {{- arg_name + '=\"' + arg_val + '\"' }}\n                {%- if not loop.la"
        "st %}\n                    {{- \", \" }}\n                {%- endif %}\n                {%- "
        "endfor %}\n            {{- \")\" }}\n        {%- else  %}\n            {{- '<|start_header_i"
        "d|>assistant<|end_header_id|>\\n\\n' -}}\n            {{- '{\"name\": \"' + tool_call.name +"
        " '\", ' }}\n            {{- '\"parameters\": ' }}\n            {{- tool_call.arguments | toj"
        "son }}\n            {{- \"}\" }}\n        {%- endif %}\n        {%- if builtin_tools is defi"
        "ned %}\n            {#- This means we're in ipython mode #}\n            {{- \"<|eom_id|>\" "
        "}}\n        {%- else %}\n            {{- \"<|eot_id|>\" }}\n        {%- endif %}\n    {%- el"
        "if message.role == \"tool\" or message.role == \"ipython\" %}\n        {{- \"<|start_header_"
        "id|>ipython<|end_header_id|>\\n\\n\" }}\n        {%- if message.content is mapping or messag"
        "e.content is iterable %}\n            {{- message.content | tojson }}\n        {%- else %}\n"
        "            {{- message.content }}\n        {%- endif %}\n        {{- \"<|eot_id|>\" }}\n   "
        " {%- endif %}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|start_header_id|>a"
        "ssistant<|end_header_id|>\\n\\n' }}\n{%- endif %}\n"},
    {"meta-llama/Llama-2-7b-chat-hf", "llama2-sys-strip",
        "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_"
        "message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system"
        "_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'u"
        "ser') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user"
        "/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != fa"
        "lse %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['conten"
        "t'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'u"
        "ser' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == "
        "'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (old, no system prompt)", "llama2",
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index"
        "0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assi"
        "stant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content']"
        " + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{%"
        " endfor %}"},
    {"TheBloke/FusionNet_34Bx2_MoE-AWQ", "llama2-sys-bos",
        "{%- for idx in range(0, messages|length) -%}\n{%- if messages[idx]['role'] == 'user' -%}\n{%"
        "- if idx > 1 -%}\n{{- bos_token + '[INST] ' + messages[idx]['content'] + ' [/INST]' -}}\n{%-"
        " else -%}\n{{- messages[idx]['content'] + ' [/INST]' -}}\n{%- endif -%}\n{% elif messages[id"
        "x]['role'] == 'system' %}\n{{- '[INST] <<SYS>>\\n' + messages[idx]['content'] + '\\n<</SYS>>"
        "\\n\\n' -}}\n{%- elif messages[idx]['role'] == 'assistant' -%}\n{{- ' '  + messages[idx]['co"
        "ntent'] + ' ' + eos_token -}}\n{% endif %}\n{% endfor %}"},
    {"mistralai/Mistral-7B-Instruct-v0.2 (v1 with a system prompt)", "mistral-v1",
        "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content"
        "'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages ="
        " messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%-"
        " if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n        {{- raise_exception('A"
        "fter the optional system message, conversation roles must alternate user/assistant/user/assi"
        "stant/...') }}\n    {%- endif %}\n    {%- if message['role'] == 'user' %}\n        {%- if lo"
        "op.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + '\\"
        "n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' "
        "+ message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == "
        "'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n    {%- else %}\n       "
        " {{- raise_exception('Only user and assistant roles are supported, with the exception of an "
        "initial optional system message!') }}\n    {%- endif %}\n{%- endfor %}\n"},
    {"mistralai/Mistral-Large-Instruct-2407 (v3, system prompt first)", "mistral-v3",
        "{%- if messages[0][\"role\"] == \"system\" %}\n    {%- set system_message = messages[0][\"co"
        "ntent\"] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_mess"
        "ages = messages %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %"
        "}\n{%- endif %}\n{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", "
        "\"user\") | list %}\n\n{#- This block checks for alternating user/assistant messages, skippi"
        "ng tool calling messages #}\n{%- set ns = namespace() %}\n{%- set ns.index = 0 %}\n{%- for m"
        "essage in loop_messages %}\n    {%- if not (message.role == \"tool\" or message.role == \"to"
        "ol_results\" or (message.tool_calls is defined and message.tool_calls is not none)) %}\n    "
        "    {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n            {{- raise_"
        "exception(\"After the optional system message, conversation roles must alternate user/assist"
        "ant/user/assistant/...\") }}\n        {%- endif %}\n        {%- set ns.index = ns.index + 1 "
        "%}\n    {%- endif %}\n{%- endfor %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}"
        "\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and (message"
        " == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS] [\" }}\n            {%- for t"
        "ool in tools %}\n                {%- set tool = tool.function %}\n                {{- '{\"ty"
        "pe\": \"function\", \"function\": {' }}\n                {%- for key, val in tool.items() if"
        " key != \"return\" %}\n                    {%- if val is string %}\n                        "
        "{{- '\"' + key + '\": \"' + val + '\"' }}\n                    {%- else %}\n                "
        "        {{- '\"' + key + '\": ' + val|tojson }}\n                    {%- endif %}\n         "
        "           {%- if not loop.last %}\n                        {{- \", \" }}\n                 "
        "   {%- endif %}\n                {%- endfor %}\n                {{- \"}}\" }}\n             "
        "   {%- if not loop.last %}\n                    {{- \", \" }}\n                {%- else %}\n"
        "                    {{- \"]\" }}\n                {%- endif %}\n            {%- endfor %}\n "
        "           {{- \"[/AVAILABLE_TOOLS]\" }}\n            {%- endif %}\n        {%- if loop.last"
        " and system_message is defined %}\n            {{- \"[INST] \" + system_message + \"\\n\\n\""
        " + message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST] \" +"
        " message[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n    {%- elif message.tool_call"
        "s is defined and message.tool_calls is not none %}\n        {{- \"[TOOL_CALLS] [\" }}\n     "
        "   {%- for tool_call in message.tool_calls %}\n            {%- set out = tool_call.function|"
        "tojson %}\n            {{- out[:-1] }}\n            {%- if not tool_call.id is defined or to"
        "ol_call.id|length != 9 %}\n                {{- raise_exception(\"Tool call IDs should be alp"
        "hanumeric strings with length 9!\") }}\n            {%- endif %}\n            {{- ', \"id\":"
        " \"' + tool_call.id + '\"}' }}\n            {%- if not loop.last %}\n                {{- \","
        " \" }}\n            {%- else %}\n                {{- \"]\" + eos_token }}\n            {%- e"
        "ndif %}\n        {%- endfor %}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        "
        "{{- \" \" + message[\"content\"]|trim + eos_token}}\n    {%- elif message[\"role\"] == \"too"
        "l_results\" or message[\"role\"] == \"tool\" %}\n        {%- if message.content is defined a"
        "nd message.content.content is defined %}\n            {%- set content = message.content.cont"
        "ent %}\n        {%- else %}\n            {%- set content = message.content %}\n        {%- e"
        "ndif %}\n        {{- '[TOOL_RESULTS] {\"content\": ' + content|string + \", \" }}\n        {"
        "%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}\n          "
        "  {{- raise_exception(\"Tool call IDs should be alphanumeric strings with length 9!\") }}\n "
        "       {%- endif %}\n        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESUL"
        "TS]' }}\n    {%- else %}\n        {{- raise_exception(\"Only user and assistant roles are su"
        "pported, with the exception of an initial optional system message!\") }}\n    {%- endif %}\n"
        "{%- endfor %}\n"},
    {"mistralai/Mistral-Nemo-Instruct-2407", "mistral-v3-tekken",
        "{%- if messages[0][\"role\"] == \"system\" %}\n    {%- set system_message = messages[0][\"co"
        "ntent\"] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_mess"
        "ages = messages %}\n{%- endif %}\n{%- if not tools is defined %}\n    {%- set tools = none %"
        "}\n{%- endif %}\n{%- set user_messages = loop_messages | selectattr(\"role\", \"equalto\", "
        "\"user\") | list %}\n\n{#- This block checks for alternating user/assistant messages, skippi"
        "ng tool calling messages #}\n{%- set ns = namespace() %}\n{%- set ns.index = 0 %}\n{%- for m"
        "essage in loop_messages %}\n    {%- if not (message.role == \"tool\" or message.role == \"to"
        "ol_results\" or (message.tool_calls is defined and message.tool_calls is not none)) %}\n    "
        "    {%- if (message[\"role\"] == \"user\") != (ns.index % 2 == 0) %}\n            {{- raise_"
        "exception(\"After the optional system message, conversation roles must alternate user/assist"
        "ant/user/assistant/...\") }}\n        {%- endif %}\n        {%- set ns.index = ns.index + 1 "
        "%}\n    {%- endif %}\n{%- endfor %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}"
        "\n    {%- if message[\"role\"] == \"user\" %}\n        {%- if tools is not none and (message"
        " == user_messages[-1]) %}\n            {{- \"[AVAILABLE_TOOLS][\" }}\n            {%- for to"
        "ol in tools %}\n                {%- set tool = tool.function %}\n                {{- '{\"typ"
        "e\": \"function\", \"function\": {' }}\n                {%- for key, val in tool.items() if "
        "key != \"return\" %}\n                    {%- if val is string %}\n                        {"
        "{- '\"' + key + '\": \"' + val + '\"' }}\n                    {%- else %}\n                 "
        "       {{- '\"' + key + '\": ' + val|tojson }}\n                    {%- endif %}\n          "
        "          {%- if not loop.last %}\n                        {{- \", \" }}\n                  "
        "  {%- endif %}\n                {%- endfor %}\n                {{- \"}}\" }}\n              "
        "  {%- if not loop.last %}\n                    {{- \", \" }}\n                {%- else %}\n "
        "                   {{- \"]\" }}\n                {%- endif %}\n            {%- endfor %}\n  "
        "          {{- \"[/AVAILABLE_TOOLS]\" }}\n            {%- endif %}\n        {%- if loop.last "
        "and system_message is defined %}\n            {{- \"[INST]\" + system_message + \"\\n\\n\" +"
        " message[\"content\"] + \"[/INST]\" }}\n        {%- else %}\n            {{- \"[INST]\" + me"
        "ssage[\"content\"] + \"[/INST]\" }}\n        {%- endif %}\n    {%- elif (message.tool_calls "
        "is defined and message.tool_calls is not none) %}\n        {{- \"[TOOL_CALLS][\" }}\n       "
        " {%- for tool_call in message.tool_calls %}\n            {%- set out = tool_call.function|to"
        "json %}\n            {{- out[:-1] }}\n            {%- if not tool_call.id is defined or tool"
        "_call.id|length != 9 %}\n                {{- raise_exception(\"Tool call IDs should be alpha"
        "numeric strings with length 9!\") }}\n            {%- endif %}\n            {{- ', \"id\": "
        "\"' + tool_call.id + '\"}' }}\n            {%- if not loop.last %}\n                {{- \", "
        "\" }}\n            {%- else %}\n                {{- \"]\" + eos_token }}\n            {%- en"
        "dif %}\n        {%- endfor %}\n    {%- elif message[\"role\"] == \"assistant\" %}\n        {"
        "{- message[\"content\"] + eos_token}}\n    {%- elif message[\"role\"] == \"tool_results\" or"
        " message[\"role\"] == \"tool\" %}\n        {%- if message.content is defined and message.con"
        "tent.content is defined %}\n            {%- set content = message.content.content %}\n      "
        "  {%- else %}\n            {%- set content = message.content %}\n        {%- endif %}\n     "
        "   {{- '[TOOL_RESULTS]{\"content\": ' + content|string + \", \" }}\n        {%- if not messa"
        "ge.tool_call_id is defined or message.tool_call_id|length != 9 %}\n            {{- raise_exc"
        "eption(\"Tool call IDs should be alphanumeric strings with length 9!\") }}\n        {%- endi"
        "f %}\n        {{- '\"call_id\": \"' + message.tool_call_id + '\"}[/TOOL_RESULTS]' }}\n    {%"
        "- else %}\n        {{- raise_exception(\"Only user and assistant roles are supported, with t"
        "he exception of an initial optional system message!\") }}\n    {%- endif %}\n{%- endfor %}\n"},
    {"mistralai/Mistral-Large-Instruct-2411", "mistral-v7",
        "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' +"
        " message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] "
        "' + message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' "
        "' + message['content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and ass"
        "istant roles are supported!') }}{% endif %}{% endfor %}"},
    /* llama.cpp says glmedge here (its GLM-Edge test comes first); we keep Zephyr */
    {"HuggingFaceH4/zephyr-7b-beta", "zephyr",
        "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message"
        "['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + mess"
        "age['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>"
        "\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_pr"
        "ompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}\n"},
    {"google/gemma-7b-it", "gemma",
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{%"
        " endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 "
        "== 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/"
        "...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else "
        "%}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['"
        "content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_"
        "of_turn>model\\n'}}{% endif %}"},
    {"google/gemma-2-2b-it", "gemma",
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not s"
        "upported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (l"
        "oop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/"
        "user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'mo"
        "del' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '"
        "\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_promp"
        "t %}{{'<start_of_turn>model\n'}}{% endif %}"},
    {"microsoft/Phi-3-mini-4k-instruct", "phi3",
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') %}{{'<|user|>'"
        " + '\n' + message['content'] + '<|end|>' + '\n' + '<|assistant|>' + '\n'}}{% elif (message['"
        "role'] == 'assistant') %}{{message['content'] + '<|end|>' + '\n'}}{% endif %}{% endfor %}"},
    {"microsoft/Phi-3.5-mini-instruct", "phi3",
        "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<"
        "|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|us"
        "er|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|as"
        "sistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation"
        "_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"},
    {"microsoft/phi-4", "unknown",
        "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im"
        "_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_s"
        "tart|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|>'}}{%"
        " elif (message['role'] == 'assistant') %}{{message['content'] + '<|im_end|>'}}{% endif %}{% "
        "endfor %}"},
    {"THUDM/glm-edge", "unknown",
        "{% for item in messages %}{% if item['role'] == 'system' %}<|system|>\n{{ item['content'] }}"
        "{% elif item['role'] == 'user' %}<|user|>\n{{ item['content'] }}{% elif item['role'] == 'ass"
        "istant' %}<|assistant|>\n{{ item['content'] }}{% endif %}{% endfor %}<|assistant|>"},
    {"THUDM/chatglm3-6b", "unknown",
        "{% for message in messages %}{% if loop.first %}[gMASK]sop<|{{ message['role'] }}|>\n {{ mes"
        "sage['content'] }}{% else %}<|{{ message['role'] }}|>\n {{ message['content'] }}{% endif %}{"
        "% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"},
    {"deepseek-ai/DeepSeek-V2", "unknown",
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif"
        " %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: '"
        " + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' +"
        " message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'"
        "] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif"
        " %}"},
    {"CohereForAI/c4ai-command-r-plus", "unknown",
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %"
        "}{% set system_message = messages[0]['content'] %}{% elif false == true %}{% set loop_messag"
        "es = messages %}{% set system_message = 'You are Command-R, a brilliant, sophisticated, AI-a"
        "ssistant trained to assist human users by providing thorough responses. You are trained by C"
        "ohere.' %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% end"
        "if %}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_m"
        "essage + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% if (messa"
        "ge['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles mus"
        "t alternate user/assistant/user/assistant/...') }}{% endif %}{% set content = message['conte"
        "nt'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + conten"
        "t.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_O"
        "F_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{"
        "% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% "
        "endif %}"},
    {"openchat/openchat-3.5-0106", "unknown",
        "{{ bos_token }}{% for message in messages %}{{ 'GPT4 Correct ' + message['role'].title() + '"
        ": ' + message['content'] + '<|end_of_turn|>'}}{% endfor %}{% if add_generation_prompt %}{{ '"
        "GPT4 Correct Assistant:' }}{% endif %}"},
    {"mlabonne/AlphaMonarch-7B", "unknown",
        "{% for message in messages %}{{bos_token + message['role'] + '\\n' + message['content'] + eo"
        "s_token + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ bos_token + 'assistant\\n' }}{"
        "% endif %}"},
};

#define N_FORMATTED (sizeof FORMATTED / sizeof FORMATTED[0])
#define N_TEMPLATES (sizeof TEMPLATES / sizeof TEMPLATES[0])

static char *fmt(qs_chat_tmpl t, const qs_chat_msg *m, size_t n, bool add_ass) {
    qs_error err = {{0}};
    char *out = NULL;
    size_t len = 0;
    if (qs_chat_tmpl_format(t, m, n, add_ass, NULL, &out, &len, &err) != QS_OK) fail_msg("%s", err.msg);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void assert_fmt(qs_chat_tmpl t, const qs_chat_msg *m, size_t n, bool add_ass, const char *want) {
    char *got = fmt(t, m, n, add_ass);
    if (strcmp(got, want) != 0) fail_msg("%s: got\n[%s]\nwant\n[%s]", qs_chat_tmpl_name(t), got, want);
    free(got);
}

static void test_format_matches_llamacpp(void **state) {
    (void)state;
    /* every family but none has a row */
    assert_int_equal(N_FORMATTED, QS_TMPL_COUNT - 1);
    for (size_t i = 0; i < N_FORMATTED; i++) {
        const qs_chat_tmpl t = qs_chat_tmpl_from_name(FORMATTED[i].name);
        assert_int_not_equal(t, QS_TMPL_UNKNOWN);
        assert_string_equal(qs_chat_tmpl_name(t), FORMATTED[i].name);
        assert_fmt(t, CONV, 4, true, FORMATTED[i].full);
        assert_fmt(t, CONV, 4, false, FORMATTED[i].noadd);
        assert_fmt(t, CONV + 1, 3, true, FORMATTED[i].nosys);
    }
}

static void test_format_none_concatenates(void **state) {
    (void)state;
    assert_fmt(QS_TMPL_NONE, CONV, 4, true,
               "You are a helpful assistant.Hello!  Hi there, how can I help?\n Tell me a story. ");
    assert_fmt(QS_TMPL_NONE, CONV, 0, true, "");
    qs_chat_msg one = {"user", "Once upon a time"};
    assert_fmt(QS_TMPL_NONE, &one, 1, true, "Once upon a time");
}

static void test_format_zephyr_eos(void **state) {
    (void)state;
    qs_error err = {{0}};
    char *out = NULL;
    assert_int_equal(qs_chat_tmpl_format(QS_TMPL_ZEPHYR, CONV + 1, 2, true, "</s>", &out, NULL, &err), QS_OK);
    assert_string_equal(out, "<|user|>\nHello!</s>\n<|assistant|>\n  Hi there, how can I help?\n</s>\n<|assistant|>\n");
    free(out);
    const char *eot[4];
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_ZEPHYR, "</s>", eot), 1);
    assert_string_equal(eot[0], "</s>");
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_ZEPHYR, NULL, eot), 1);
    assert_string_equal(eot[0], "<|endoftext|>");
}

/* Appending messages only appends text, and add_ass only appends the reply header: what a chat
 * relies on to feed the model the new text only. Checked for every family on a longer chat
 * with two exchanges after the system message and whitespace-edged texts. */
static void test_format_prefix_property(void **state) {
    (void)state;
    const qs_chat_msg chat[7] = {
        {"system", " Be brief. "}, {"user", "Hi"},         {"assistant", " Hello.\n"},
        {"user", "\tWhy?"},         {"assistant", "Because."}, {"user", "ok "},
        {"assistant", ""},
    };
    for (int t = 0; t < QS_TMPL_COUNT; t++) {
        for (size_t k = 0; k < 7; k++) {
            char *a = fmt((qs_chat_tmpl)t, chat, k, false);
            char *b = fmt((qs_chat_tmpl)t, chat, k + 1, false);
            char *c = fmt((qs_chat_tmpl)t, chat, k, true);
            if (strncmp(a, b, strlen(a)) != 0)
                fail_msg("%s: %zu messages [%s] not a prefix of %zu [%s]", qs_chat_tmpl_name((qs_chat_tmpl)t), k, a, k + 1, b);
            if (strncmp(a, c, strlen(a)) != 0)
                fail_msg("%s: [%s] not a prefix of its add_ass form [%s]", qs_chat_tmpl_name((qs_chat_tmpl)t), a, c);
            /* after a user message, the assistant's message starts with the reply header */
            if (k >= 1 && strcmp(chat[k].role, "assistant") == 0 && strcmp(chat[k - 1].role, "user") == 0) {
                char *u = fmt((qs_chat_tmpl)t, chat, k, true);
                if (strncmp(u, b, strlen(u)) != 0)
                    fail_msg("%s: header [%s] not a prefix of [%s]", qs_chat_tmpl_name((qs_chat_tmpl)t), u, b);
                free(u);
            }
            free(a);
            free(b);
            free(c);
        }
    }
}

static void test_detect_published_templates(void **state) {
    (void)state;
    for (size_t i = 0; i < N_TEMPLATES; i++) {
        const qs_chat_tmpl t = qs_chat_tmpl_detect(TEMPLATES[i].jinja);
        if (strcmp(qs_chat_tmpl_name(t), TEMPLATES[i].family) != 0)
            fail_msg("%s: detected %s, expected %s", TEMPLATES[i].model, qs_chat_tmpl_name(t), TEMPLATES[i].family);
    }
}

static void test_detect_names_and_empty(void **state) {
    (void)state;
    assert_int_equal(qs_chat_tmpl_detect(NULL), QS_TMPL_NONE);
    assert_int_equal(qs_chat_tmpl_detect(""), QS_TMPL_NONE);
    for (int t = 0; t < QS_TMPL_COUNT; t++) {
        assert_int_equal(qs_chat_tmpl_detect(qs_chat_tmpl_name((qs_chat_tmpl)t)), t);
        assert_int_equal(qs_chat_tmpl_from_name(qs_chat_tmpl_name((qs_chat_tmpl)t)), t);
        assert_non_null(strstr(qs_chat_tmpl_all_names(), qs_chat_tmpl_name((qs_chat_tmpl)t)));
    }
    assert_int_equal(qs_chat_tmpl_from_name("chatml2"), QS_TMPL_UNKNOWN);
    assert_int_equal(qs_chat_tmpl_from_name(NULL), QS_TMPL_UNKNOWN);
    assert_string_equal(qs_chat_tmpl_name(QS_TMPL_UNKNOWN), "unknown");
    assert_int_equal(qs_chat_tmpl_detect("{{ messages }}"), QS_TMPL_UNKNOWN);
    /* "mistral" at the start selects the [INST] families, as in llama.cpp */
    assert_int_equal(qs_chat_tmpl_detect("mistral-ish"), QS_TMPL_LLAMA2);
}

static void test_end_of_turn_and_system(void **state) {
    (void)state;
    const char *e[4];
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_CHATML, NULL, e), 1);
    assert_string_equal(e[0], "<|im_end|>");
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_LLAMA3, NULL, e), 2);
    assert_string_equal(e[0], "<|eot_id|>");
    assert_string_equal(e[1], "<|eom_id|>");
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_GEMMA, NULL, e), 1);
    assert_string_equal(e[0], "<end_of_turn>");
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_PHI3, NULL, e), 2);
    assert_string_equal(e[0], "<|end|>");
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_MISTRAL_V7, NULL, e), 1);
    assert_string_equal(e[0], "</s>");
    assert_int_equal(qs_chat_tmpl_end_of_turn(QS_TMPL_NONE, NULL, e), 0);
    /* every end-of-turn text of a tagged family is what its formatter writes after a reply */
    for (int t = 1; t < QS_TMPL_COUNT; t++) {
        int n = qs_chat_tmpl_end_of_turn((qs_chat_tmpl)t, NULL, e);
        assert_true(n >= 1);
        char *s = fmt((qs_chat_tmpl)t, CONV, 3, false);
        if (!strstr(s, e[0])) fail_msg("%s: %s not in [%s]", qs_chat_tmpl_name((qs_chat_tmpl)t), e[0], s);
        free(s);
    }
    assert_true(qs_chat_tmpl_system_is_separate(QS_TMPL_CHATML));
    assert_true(qs_chat_tmpl_system_is_separate(QS_TMPL_NONE));
    assert_false(qs_chat_tmpl_system_is_separate(QS_TMPL_GEMMA));
    assert_false(qs_chat_tmpl_system_is_separate(QS_TMPL_LLAMA2_SYS));
    /* "separate" means: the system message alone formats to a prefix that ends before the user
     * turn starts, and is not empty */
    for (int t = 1; t < QS_TMPL_COUNT; t++) {
        if (!qs_chat_tmpl_system_is_separate((qs_chat_tmpl)t)) continue;
        char *s = fmt((qs_chat_tmpl)t, CONV, 1, false);
        assert_non_null(strstr(s, CONV[0].content));
        assert_null(strstr(s, "Hello!"));
        free(s);
    }
}

static void test_format_errors(void **state) {
    (void)state;
    qs_error err = {{0}};
    char *out = (char *)1;
    assert_int_equal(qs_chat_tmpl_format(QS_TMPL_UNKNOWN, CONV, 4, true, NULL, &out, NULL, &err), QS_ERR);
    assert_null(out);
    assert_non_null(strstr(err.msg, "chatml"));
    const qs_chat_msg bad = {"user", NULL};
    assert_int_equal(qs_chat_tmpl_format(QS_TMPL_CHATML, &bad, 1, true, NULL, &out, NULL, &err), QS_ERR);
    assert_non_null(strstr(err.msg, "message 0"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_matches_llamacpp),
        cmocka_unit_test(test_format_none_concatenates),
        cmocka_unit_test(test_format_zephyr_eos),
        cmocka_unit_test(test_format_prefix_property),
        cmocka_unit_test(test_detect_published_templates),
        cmocka_unit_test(test_detect_names_and_empty),
        cmocka_unit_test(test_end_of_turn_and_system),
        cmocka_unit_test(test_format_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
