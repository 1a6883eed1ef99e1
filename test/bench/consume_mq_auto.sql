SELECT payload_type, payload_json, payload_text, payload_bytes FROM mq.fetch('drain', 'bench', max => 100, auto_commit => true);
