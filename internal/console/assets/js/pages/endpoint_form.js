// The endpoint form: /endpoints/new creates, /endpoints/:id/edit edits.
// Beside it a live preview shows the exact request Herald would send for
// a sample event with the settings as typed, so that a body template is
// checked while it is written. Every rule is the API's: the form sends
// what was typed and shows the API's answer next to the field it names.

import { api, seg } from '../api.js';
import { addStrings, t } from '../i18n.js';
import { h, field, showErrors, clearErrors, pageHeader, toast, replace, pretty, codeBlock, headerLines, newId } from '../dom.js';
import { catalog, endpointLabel, BROKER_KINDS, KIND_LABELS, isBroker } from './endpoints.js';

addStrings({
  en: {
    'epf.newTitle': 'New endpoint',
    'epf.editTitle': 'Edit endpoint',
    'epf.viewTitle': 'Endpoint settings',
    'epf.url': 'URL',
    'epf.urlHint': 'Where Herald sends the requests. It may hold tags such as {{lead.id}}.',
    'epf.description': 'Description',
    'epf.eventTypes': 'Event types',
    'epf.versionOf': 'Version of {name} this endpoint receives',
    'epf.versionLatest': 'As sent (latest: {version})',
    'epf.versionFirst': 'First (unversioned)',
    'epf.eventTypesHint': 'None chosen: the endpoint receives every event type of the app.',
    'epf.noCatalog': 'The event catalog is empty: name event types below, or leave it empty for all.',
    'epf.catalogError': 'The event catalog could not be loaded: {message}',
    'epf.deprecated': 'deprecated',
    'epf.extra': 'Wildcards and groups',
    'epf.extraHint': 'Comma separated, for example form.* or group:forms. Other names may go here too.',
    'epf.filter': 'Filter (CEL expression)',
    'epf.filterHint': 'Only events for which it is true are sent. Example: payload.amount > 100 && has(payload.email). Variables: payload, event, app.',
    'epf.stage': 'Stage',
    'epf.stageLive': 'Live: every matching event',
    'epf.stageTest': 'Test: only events that meet the test filter',
    'epf.stageHint': 'Send to a limited test audience first, then go live.',
    'epf.testFilter': 'Test filter (CEL expression)',
    'epf.testFilterHint': 'In stage test, only events for which it is true are sent. Example: payload.user_id in ["u1", "u2"].',
    'epf.preset': 'Preset',
    'epf.presetNone': 'None (your own request)',
    'epf.presetOptions': 'Preset options',
    'epf.presetOptionsHint': 'One key=value per line (or a JSON object). This preset takes: {options}. Secret values are masked after saving: leave ******** as it is to keep one, retype it to change it.',
    'epf.required': 'required',
    'epf.secret': 'secret',
    'epf.preset.slack': 'Slack incoming webhook: give its URL as the endpoint URL.',
    'epf.preset.discord': 'Discord webhook: give its URL as the endpoint URL.',
    'epf.preset.teams': 'Microsoft Teams incoming webhook: give its URL as the endpoint URL.',
    'epf.preset.chatwork': 'Chatwork: posts a message to a room through Chatwork\'s API; no URL needed.',
    'epf.preset.marketo': 'Marketo: creates or updates leads through Marketo\'s REST API; no URL needed.',
    'epf.preset.segment': 'Segment: a track call through Segment\'s HTTP API; no URL needed.',
    'epf.method': 'Method',
    'epf.contentType': 'Content type',
    'epf.default': 'Default',
    'epf.defaultMethod': 'Default (POST)',
    'epf.defaultContentType': 'Default (JSON)',
    'epf.shapeHint': 'A preset may choose other defaults; anything set here wins over the preset.',
    'epf.headers': 'Headers',
    'epf.headersHint': 'One per line: Name: value. Values may hold tags. Values are masked after saving, but those of the headers named below: leave ******** as it is to keep one, retype it to change it.',
    'epf.plainHeaders': 'Headers shown in clear',
    'epf.plainHeadersHint': 'Comma separated names of headers above whose values are not secret, for example X-Request-Source. Names of credentials (Authorization, token, secret, password…) are always masked.',
    'epf.bodyTemplate': 'Body template',
    'epf.bodyTemplateHint': 'A JSON document with tags such as {{name}} or {{email | lower}}; {{payload}} alone sends the payload itself. Text that is not JSON is sent as a text template. Empty: the default body. ',
    'epf.syntaxLink': 'Template syntax and filters',
    'epf.templateSyntax': 'Template syntax',
    'epf.syntaxBraces': 'braces: {{path}}',
    'epf.syntaxHash': 'hash: #{path} (KARTE)',
    'epf.payloadFormat': 'Payload format',
    'epf.formatStandard': 'standard: {type, timestamp, data}',
    'epf.formatRaw': 'raw: the payload as is',
    'epf.formatFlat': 'flat: payload fields with the event name',
    'epf.appDefault': 'Default (the app\'s)',
    'epf.enabled': 'Enabled',
    'epf.kind': 'Kind',
    'epf.kindPush': 'Push: Herald sends to a URL',
    'epf.kindPull': 'Pull: a client collects the deliveries',
    'epf.kindHint': 'A pull endpoint has no URL: a client behind a firewall calls GET …/pull and acknowledges each delivery. The kind cannot change later.',
    'epf.kindBrokerHint': 'A broker kind publishes each delivery to your message broker or cloud queue instead of sending it to a URL: Herald counts it delivered only on the broker\'s acknowledgement. The kind cannot change later.',
    'epf.destination': 'Destination',
    'epf.destSecretHint': 'Secret: masked after saving. Leave ******** as it is to keep it, retype it to change it.',
    'epf.dest.url': 'Broker URL',
    'epf.dest.username': 'Username',
    'epf.dest.password': 'Password',
    'epf.dest.subject': 'Subject',
    'epf.dest.stream': 'Stream',
    'epf.dest.exchange': 'Exchange',
    'epf.dest.routing_key': 'Routing key',
    'epf.dest.brokers': 'Brokers',
    'epf.dest.topic': 'Topic',
    'epf.dest.key': 'Message key',
    'epf.dest.sasl_mechanism': 'SASL mechanism',
    'epf.dest.saslNone': 'None',
    'epf.dest.tls': 'Connect over TLS',
    'epf.dest.max_len': 'Maximum length (entries)',
    'epf.dest.project': 'Project',
    'epf.dest.ordering_key': 'Ordering key',
    'epf.dest.credentials_json': 'Service account key (JSON)',
    'epf.dest.queue_url': 'Queue URL',
    'epf.dest.region': 'Region',
    'epf.dest.access_key_id': 'Access key id',
    'epf.dest.secret_access_key': 'Secret access key',
    'epf.dest.message_group_id': 'Message group id',
    'epf.dest.deduplication_id': 'Deduplication id',
    'epf.dest.endpoint': 'API endpoint',
    'epf.destHint.url': 'The broker\'s address; it may carry the credentials (user:password@), or give them below.',
    'epf.destHint.nats.url': 'For example nats://nats.example.com:4222; several servers separated by commas.',
    'epf.destHint.rabbitmq.url': 'For example amqp://rabbit.example.com:5672/vhost (amqps:// for TLS).',
    'epf.destHint.redis.url': 'For example redis://redis.example.com:6379/0 (rediss:// for TLS).',
    'epf.destHint.mqtt.url': 'For example mqtt://mqtt.example.com:1883 (mqtts:// for TLS). The broker must speak MQTT 5.',
    'epf.destHint.subject': 'May hold tags, for example orders.{{event_type}}.',
    'epf.destHint.nats.stream': 'Optional. The JetStream stream holding the subject: set, a delivery counts only once the stream acknowledges it.',
    'epf.destHint.redis.stream': 'The stream key XADD appends to; may hold tags.',
    'epf.destHint.exchange': 'An existing exchange (Herald does not declare it); empty: the default exchange, where the routing key names the queue.',
    'epf.destHint.routing_key': 'May hold tags.',
    'epf.destHint.brokers': 'Bootstrap addresses, host:port, separated by commas.',
    'epf.destHint.topic': 'May hold tags.',
    'epf.destHint.gcp_pubsub.topic': 'The topic id alone, without projects/…/topics/.',
    'epf.destHint.key': 'May hold tags, for example {{payload.customer_id}}, so that one customer\'s events keep their order in a partition. Empty: no key.',
    'epf.destHint.max_len': 'Trims the stream to about this many entries on each XADD. Empty or 0: never trimmed.',
    'epf.destHint.ordering_key': 'May hold tags. Empty: no ordering.',
    'epf.destHint.credentials_json': 'Empty: the installation\'s default credentials. Secret: masked after saving; leave ******** as it is to keep it.',
    'epf.destHint.region': 'Empty: taken from the queue URL\'s host.',
    'epf.destHint.access_key_id': 'Empty, with the secret access key: the installation\'s default AWS credentials.',
    'epf.destHint.message_group_id': 'FIFO queues only (required there); may hold tags.',
    'epf.destHint.deduplication_id': 'FIFO queues only; may hold tags. Empty: the delivery id.',
    'epf.destHint.endpoint': 'Optional: an emulator or a compatible server, http://host:port.',
    'epf.previewIntroBroker': 'The exact message Herald would publish for the event type\'s sample payload, with the settings as typed. Nothing is published.',
    'epf.previewNeedsDest': 'Fill in the destination to see the message.',
    'epf.publishedTo': 'Published to',
    'epf.advanced': 'Advanced',
    'epf.retry': 'Retry schedule',
    'epf.retryHint': 'Comma-separated waits, e.g. 5s,1m,10m,1h. Empty: the app\'s or the installation\'s.',
    'epf.timeout': 'Request timeout (ms)',
    'epf.inheritHint': 'Empty: the app\'s or the installation\'s value.',
    'epf.maxInFlight': 'Requests in flight at once',
    'epf.rateLimit': 'Rate limit (requests per second)',
    'epf.rateLimitHint': 'Empty or 0: no limit.',
    'epf.batchMaxEvents': 'Batch: most events per request',
    'epf.batchMaxEventsHint': '2 to 1000: due deliveries go together as one JSON array. Empty: one request per event. Push endpoints only; a transformation runs on each event, its payload becoming that event\'s element.',
    'epf.batchMaxWait': 'Batch: longest wait (ms)',
    'epf.batchMaxWaitHint': 'How long the oldest waiting event waits for others, 0 to 60000. Empty or 0: send what is waiting at once.',
    'epf.batchMaxBytes': 'Batch: most payload bytes per request',
    'epf.batchMaxBytesHint': 'Empty: the installation\'s request size cap.',
    'epf.batchElement': 'Batch: each element',
    'epf.batchElementStandard': 'Standard: {"id", "type", "timestamp", "data"}',
    'epf.batchElementBody': 'Body: the body this endpoint sends for the event alone',
    'epf.batchElementHint': 'With Body, put "{{delivery.id}}" in the body template to keep an id per element.',
    'epf.batchBodyTemplate': 'Batch: body of the whole request',
    'epf.batchBodyTemplateHint': 'JSON rendered once per batch; "{{batch.events}}" is the array of elements (required), "{{batch.size}}" their number, "{{batch.id}}" the batch id. Empty: the array alone.',
    'epf.orderingKey': 'Ordering key template',
    'epf.orderingKeyHint': 'Events that carry no ordering_key get one from this template; deliveries of one key go one at a time, in order. Empty: only events with a key are ordered.',
    'epf.orderingOnFailure': 'When an ordered delivery fails for good',
    'epf.orderingUnblock': 'Let the next of its key go',
    'epf.orderingPause': 'Pause its key until it is resent or skipped',
    'epf.sampleRate': 'Sample rate (%)',
    'epf.sampleRateHint': 'Share of matching events sent, 0 to 100. Empty: all of them.',
    'epf.signature': 'Signature scheme',
    'epf.channels': 'Channels',
    'epf.channelsHint': 'Only events carrying one of these channels (a form, a project…), separated by commas; empty: events whatever their channels.',
    'epf.channelsPick': 'Channels of recent events:',
    'epf.channelAdd': 'Add channel {channel}',
    'epf.uid': 'Your id for this endpoint',
    'epf.uidHint': 'Optional, unique in the app; usable in the API in place of Herald\'s id.',
    'epf.webhookHeaders': 'Signature headers',
    'epf.headersApp': 'The app\'s',
    'epf.headersStandard': 'webhook-* (Standard Webhooks)',
    'epf.headersSvix': 'svix-* (Svix)',
    'epf.v1': 'v1: HMAC-SHA256 with a shared secret',
    'epf.v1a': 'v1a: Ed25519, receivers verify with a public key',
    'epf.signatureHint': 'Changing the scheme replaces the signing secret.',
    'epf.strict': 'Fail deliveries whose template names a missing value',
    'epf.notNumber': 'Enter a number.',
    'epf.headerLine': 'Line {n}: write a header as Name: value.',
    'epf.optionLine': 'Line {n}: write an option as key=value.',
    'epf.optionsJSON': 'Preset options written as JSON must be an object of strings.',
    'epf.bodyJSON': 'This looks like JSON but does not parse: {message}',
    'epf.noChanges': 'Nothing changed.',
    'epf.created': 'Endpoint created.',
    'epf.preview': 'Preview',
    'epf.previewIntro': 'The exact request Herald would send for the event type\'s sample payload, with the settings as typed. Nothing is sent.',
    'epf.previewType': 'Event type to preview',
    'epf.previewNoTypes': 'Add an event type with a sample to the catalog to see a preview.',
    'epf.previewNeedsUrl': 'Enter the URL to see the request.',
    'epf.previewLoading': 'Updating…',
    'epf.requestLine': 'Request line',
    'epf.previewHeaders': 'Headers',
    'epf.previewBody': 'Body',
    'epf.noBody': '(no body: the fields go to the query string)',
    'epf.transformation': 'Transformation (JavaScript)',
    'epf.transformationHint': 'Defines handler(webhook): it gets {method, url, headers, payload, event_type} and returns the same shape (payload is sent as the JSON body), or {cancel: true} to send nothing. No network, files or timers; limited in time and memory. Empty: none. ',
    'epf.transformationLink': 'How transformations work',
    'epf.previewCancelled': 'The transformation cancels this delivery: nothing would be sent.',
    'epf.template': 'Endpoint template',
    'epf.templateNone': 'None: this endpoint\'s own request',
    'epf.templateHint': 'The endpoint takes its URL and request from the template, except the fields below that you set to something else; a later change to the template changes this endpoint too. Choosing one fills the fields below with its values.',
    'epf.templateOpen': 'Open the template',
  },
  ja: {
    'epf.newTitle': 'エンドポイントを追加',
    'epf.editTitle': 'エンドポイントを編集',
    'epf.viewTitle': 'エンドポイントの設定',
    'epf.url': 'URL',
    'epf.urlHint': 'Herald がリクエストを送る先です。{{lead.id}} のようなタグも使えます。',
    'epf.description': '説明',
    'epf.eventTypes': 'イベントタイプ',
    'epf.versionOf': 'このエンドポイントが受け取る {name} のバージョン',
    'epf.versionLatest': '送信されたまま（最新：{version}）',
    'epf.versionFirst': '最初のバージョン（バージョンなし）',
    'epf.eventTypesHint': '何も選ばない場合、このアプリのすべてのイベントタイプを受け取ります。',
    'epf.noCatalog': 'イベントカタログは空です。下の欄に名前を入力するか、空欄のまま（すべて受け取る）にしてください。',
    'epf.catalogError': 'イベントカタログを読み込めませんでした：{message}',
    'epf.deprecated': '非推奨',
    'epf.extra': 'ワイルドカードとグループ',
    'epf.extraHint': 'カンマ区切り。例：form.*、group:forms。ほかのイベント名もここに書けます。',
    'epf.filter': 'フィルター（CEL 式）',
    'epf.filterHint': '式が true になるイベントだけを送信します。例：payload.amount > 100 && has(payload.email)。使える変数：payload、event、app。',
    'epf.stage': '段階',
    'epf.stageLive': '本番：条件に合うすべてのイベント',
    'epf.stageTest': 'テスト：テストフィルターに合うイベントだけ',
    'epf.stageHint': 'まず限られたテスト対象に送り、その後本番にします。',
    'epf.testFilter': 'テストフィルター（CEL 式）',
    'epf.testFilterHint': 'テスト段階では、式が true になるイベントだけを送信します。例：payload.user_id in ["u1", "u2"]。',
    'epf.preset': 'プリセット',
    'epf.presetNone': 'なし（リクエストを自分で設定）',
    'epf.presetOptions': 'プリセットのオプション',
    'epf.presetOptionsHint': '1 行に 1 つ key=value の形式で（JSON オブジェクトでも可）。このプリセットのオプション：{options}。シークレットの値は保存後に伏せ字で表示されます。伏せ字（********）のままなら元の値を保ち、再入力すると変更します。',
    'epf.required': '必須',
    'epf.secret': 'シークレット',
    'epf.preset.slack': 'Slack の Incoming Webhook：その URL をエンドポイントの URL に指定します。',
    'epf.preset.discord': 'Discord の Webhook：その URL をエンドポイントの URL に指定します。',
    'epf.preset.teams': 'Microsoft Teams の Incoming Webhook：その URL をエンドポイントの URL に指定します。',
    'epf.preset.chatwork': 'Chatwork：Chatwork の API でルームにメッセージを投稿します。URL は不要です。',
    'epf.preset.marketo': 'Marketo：Marketo の REST API でリードを作成・更新します。URL は不要です。',
    'epf.preset.segment': 'Segment：Segment の HTTP API で track を呼び出します。URL は不要です。',
    'epf.method': 'メソッド',
    'epf.contentType': 'Content-Type',
    'epf.default': '既定',
    'epf.defaultMethod': '既定（POST）',
    'epf.defaultContentType': '既定（JSON）',
    'epf.shapeHint': 'プリセットによっては既定値が異なります。ここで指定した値はプリセットより優先されます。',
    'epf.headers': 'ヘッダー',
    'epf.headersHint': '1 行に 1 つ「名前: 値」の形式で。値にはタグも使えます。下で指定したヘッダー以外の値は保存後に伏せ字で表示されます。伏せ字（********）のままなら元の値を保ち、再入力すると変更します。',
    'epf.plainHeaders': '伏せ字にしないヘッダー',
    'epf.plainHeadersHint': '上のヘッダーのうち、値が秘密でないものの名前をカンマ区切りで（例：X-Request-Source）。認証情報の名前（Authorization、token、secret、password など）は常に伏せ字です。',
    'epf.bodyTemplate': 'ボディテンプレート',
    'epf.bodyTemplateHint': '{{name}} や {{email | lower}} のようなタグを含む JSON。{{payload}} だけを書くとペイロードそのものを送ります。JSON でないテキストはテキストのテンプレートとして送ります。空欄なら既定のボディです。',
    'epf.syntaxLink': 'テンプレートの構文とフィルター',
    'epf.templateSyntax': 'テンプレート構文',
    'epf.syntaxBraces': 'braces：{{path}}',
    'epf.syntaxHash': 'hash：#{path}（KARTE 形式）',
    'epf.payloadFormat': 'ペイロード形式',
    'epf.formatStandard': 'standard：{type, timestamp, data}',
    'epf.formatRaw': 'raw：ペイロードそのまま',
    'epf.formatFlat': 'flat：ペイロードの項目とイベント名',
    'epf.appDefault': '既定（アプリの設定）',
    'epf.enabled': '有効',
    'epf.kind': '種類',
    'epf.kindPush': 'プッシュ：Herald が URL に送信',
    'epf.kindPull': 'プル：クライアントが配信を取得',
    'epf.kindHint': 'プル型エンドポイントには URL がありません。ファイアウォール内のクライアントが GET …/pull で配信を取得し、結果を返します。種類は後から変更できません。',
    'epf.kindBrokerHint': 'ブローカーの種類を選ぶと、各配信を URL ではなくメッセージブローカーやクラウドのキューにパブリッシュします。ブローカーの受信確認があって初めて配信済みになります。種類は後から変更できません。',
    'epf.destination': '送信先',
    'epf.destSecretHint': 'シークレット：保存後は伏せ字で表示されます。伏せ字（********）のままなら元の値を保ち、再入力すると変更します。',
    'epf.dest.url': 'ブローカーの URL',
    'epf.dest.username': 'ユーザー名',
    'epf.dest.password': 'パスワード',
    'epf.dest.subject': 'サブジェクト',
    'epf.dest.stream': 'ストリーム',
    'epf.dest.exchange': 'エクスチェンジ',
    'epf.dest.routing_key': 'ルーティングキー',
    'epf.dest.brokers': 'ブローカー',
    'epf.dest.topic': 'トピック',
    'epf.dest.key': 'メッセージキー',
    'epf.dest.sasl_mechanism': 'SASL メカニズム',
    'epf.dest.saslNone': 'なし',
    'epf.dest.tls': 'TLS で接続する',
    'epf.dest.max_len': '最大長（エントリー数）',
    'epf.dest.project': 'プロジェクト',
    'epf.dest.ordering_key': '順序指定キー',
    'epf.dest.credentials_json': 'サービスアカウントキー（JSON）',
    'epf.dest.queue_url': 'キューの URL',
    'epf.dest.region': 'リージョン',
    'epf.dest.access_key_id': 'アクセスキー ID',
    'epf.dest.secret_access_key': 'シークレットアクセスキー',
    'epf.dest.message_group_id': 'メッセージグループ ID',
    'epf.dest.deduplication_id': '重複排除 ID',
    'epf.dest.endpoint': 'API エンドポイント',
    'epf.destHint.url': 'ブローカーのアドレス。認証情報（user:password@）を含めるか、下の欄に入力します。',
    'epf.destHint.nats.url': '例：nats://nats.example.com:4222。複数のサーバーはカンマ区切りで。',
    'epf.destHint.rabbitmq.url': '例：amqp://rabbit.example.com:5672/vhost（TLS は amqps://）。',
    'epf.destHint.redis.url': '例：redis://redis.example.com:6379/0（TLS は rediss://）。',
    'epf.destHint.mqtt.url': '例：mqtt://mqtt.example.com:1883（TLS は mqtts://）。ブローカーは MQTT 5 に対応している必要があります。',
    'epf.destHint.subject': 'タグも使えます。例：orders.{{event_type}}。',
    'epf.destHint.nats.stream': '任意。サブジェクトを含む JetStream のストリーム。指定すると、ストリームの受信確認があって初めて配信済みになります。',
    'epf.destHint.redis.stream': 'XADD で追加するストリームのキー。タグも使えます。',
    'epf.destHint.exchange': '既存のエクスチェンジ（Herald は作成しません）。空欄ならデフォルトエクスチェンジで、ルーティングキーがキューの名前になります。',
    'epf.destHint.routing_key': 'タグも使えます。',
    'epf.destHint.brokers': 'ブートストラップのアドレス（host:port）をカンマ区切りで。',
    'epf.destHint.topic': 'タグも使えます。',
    'epf.destHint.gcp_pubsub.topic': 'トピック ID のみ（projects/…/topics/ は不要）。',
    'epf.destHint.key': 'タグも使えます（例：{{payload.customer_id}}）。同じ顧客のイベントがパーティション内で順序を保ちます。空欄ならキーなし。',
    'epf.destHint.max_len': 'XADD のたびにストリームをおよそこのエントリー数に切り詰めます。空欄または 0 なら切り詰めません。',
    'epf.destHint.ordering_key': 'タグも使えます。空欄なら順序指定なし。',
    'epf.destHint.credentials_json': '空欄ならインストールの既定の認証情報。シークレット：保存後は伏せ字で表示され、伏せ字（********）のままなら元の値を保ちます。',
    'epf.destHint.region': '空欄ならキューの URL のホスト名から取ります。',
    'epf.destHint.access_key_id': 'シークレットアクセスキーとともに空欄なら、インストールの既定の AWS 認証情報を使います。',
    'epf.destHint.message_group_id': 'FIFO キューのみ（その場合は必須）。タグも使えます。',
    'epf.destHint.deduplication_id': 'FIFO キューのみ。タグも使えます。空欄なら配信 ID。',
    'epf.destHint.endpoint': '任意：エミュレーターや互換サーバーの http://host:port。',
    'epf.previewIntroBroker': '入力中の設定で、イベントタイプのサンプルに対して Herald がパブリッシュするメッセージそのものです。実際にはパブリッシュされません。',
    'epf.previewNeedsDest': '送信先を入力するとメッセージが表示されます。',
    'epf.publishedTo': 'パブリッシュ先',
    'epf.advanced': '詳細設定',
    'epf.retry': '再送スケジュール',
    'epf.retryHint': 'カンマ区切りの待ち時間（例：5s,1m,10m,1h）。空欄ならアプリまたはインストール全体の値。',
    'epf.timeout': 'リクエストのタイムアウト（ミリ秒）',
    'epf.inheritHint': '空欄ならアプリまたはインストール全体の値。',
    'epf.maxInFlight': '同時リクエスト数',
    'epf.rateLimit': 'レート制限（毎秒のリクエスト数）',
    'epf.rateLimitHint': '空欄または 0：制限なし。',
    'epf.batchMaxEvents': 'バッチ：1 リクエストの最大イベント数',
    'epf.batchMaxEventsHint': '2〜1000。送信待ちの配信をまとめて 1 つの JSON 配列として送ります。空欄：イベントごとに 1 リクエスト。プッシュ型エンドポイントのみ。変換はイベントごとに実行され、その payload がそのイベントの要素になります。',
    'epf.batchMaxWait': 'バッチ：最大待ち時間（ミリ秒）',
    'epf.batchMaxWaitHint': '最も古い配信が他の配信を待つ時間、0〜60000。空欄または 0：待っている分をすぐ送ります。',
    'epf.batchMaxBytes': 'バッチ：1 リクエストの最大ペイロードバイト数',
    'epf.batchMaxBytesHint': '空欄：インストールのリクエストサイズ上限。',
    'epf.batchElement': 'バッチ：各要素',
    'epf.batchElementStandard': '標準：{"id", "type", "timestamp", "data"}',
    'epf.batchElementBody': 'ボディ：このエンドポイントがそのイベント単独で送るボディ',
    'epf.batchElementHint': 'ボディの場合、要素ごとの ID を残すにはボディテンプレートに "{{delivery.id}}" を入れてください。',
    'epf.batchBodyTemplate': 'バッチ：リクエスト全体のボディ',
    'epf.batchBodyTemplateHint': 'バッチごとに 1 回レンダリングする JSON。"{{batch.events}}" は要素の配列（必須）、"{{batch.size}}" は要素数、"{{batch.id}}" はバッチ ID。空欄：配列のみ。',
    'epf.orderingKey': '順序キーのテンプレート',
    'epf.orderingKeyHint': 'ordering_key を持たないイベントには、このテンプレートから順序キーを付けます。同じキーの配信は 1 件ずつ順番に送られます。空欄：キーを持つイベントだけが順序どおりに送られます。',
    'epf.orderingOnFailure': '順序付きの配信が最終的に失敗したとき',
    'epf.orderingUnblock': '同じキーの次の配信に進む',
    'epf.orderingPause': '再送またはスキップされるまで、そのキーを一時停止する',
    'epf.sampleRate': '配信率（%）',
    'epf.sampleRateHint': '条件に合うイベントのうち送信する割合（0〜100）。空欄ならすべて送信。',
    'epf.signature': '署名方式',
    'epf.channels': 'チャネル',
    'epf.channelsHint': 'これらのチャネル（フォーム、プロジェクトなど）のいずれかを持つイベントだけを受け取ります。カンマ区切り。空欄：チャネルに関係なくすべて。',
    'epf.channelsPick': '最近のイベントのチャネル：',
    'epf.channelAdd': 'チャネル {channel} を追加',
    'epf.uid': 'このエンドポイントの独自 ID',
    'epf.uidHint': '任意。アプリ内で一意で、API で Herald の ID の代わりに使えます。',
    'epf.webhookHeaders': '署名ヘッダー',
    'epf.headersApp': 'アプリの設定',
    'epf.headersStandard': 'webhook-*（Standard Webhooks）',
    'epf.headersSvix': 'svix-*（Svix）',
    'epf.v1': 'v1：共有シークレットによる HMAC-SHA256',
    'epf.v1a': 'v1a：Ed25519（受信側は公開鍵で検証）',
    'epf.signatureHint': '署名方式を変えると署名シークレットも作り直されます。',
    'epf.strict': 'テンプレートの値が見つからない配信を失敗にする',
    'epf.notNumber': '数値を入力してください。',
    'epf.headerLine': '{n} 行目：ヘッダーは「名前: 値」の形式で書いてください。',
    'epf.optionLine': '{n} 行目：オプションは key=value の形式で書いてください。',
    'epf.optionsJSON': 'JSON で書く場合、プリセットのオプションは文字列の値を持つオブジェクトにしてください。',
    'epf.bodyJSON': 'JSON のようですが解析できません：{message}',
    'epf.noChanges': '変更はありません。',
    'epf.created': 'エンドポイントを作成しました。',
    'epf.preview': 'プレビュー',
    'epf.previewIntro': '入力中の設定で、イベントタイプのサンプルに対して Herald が送信するリクエストそのものです。実際には送信されません。',
    'epf.previewType': 'プレビューするイベントタイプ',
    'epf.previewNoTypes': 'プレビューするには、サンプル付きのイベントタイプをカタログに追加してください。',
    'epf.previewNeedsUrl': 'URL を入力するとリクエストが表示されます。',
    'epf.previewLoading': '更新中…',
    'epf.requestLine': 'リクエスト行',
    'epf.previewHeaders': 'ヘッダー',
    'epf.previewBody': 'ボディ',
    'epf.noBody': '（ボディなし：項目はクエリ文字列で送られます）',
    'epf.transformation': '変換（JavaScript）',
    'epf.transformationHint': 'handler(webhook) を定義します。{method, url, headers, payload, event_type} を受け取り、同じ形を返します（payload が JSON ボディとして送られます）。{cancel: true} を返すと何も送りません。ネットワーク・ファイル・タイマーは使えず、時間とメモリに上限があります。空欄なら変換なし。',
    'epf.transformationLink': '変換の仕組み',
    'epf.previewCancelled': '変換がこの配信をキャンセルします。何も送信されません。',
    'epf.template': 'エンドポイントテンプレート',
    'epf.templateNone': 'なし（このエンドポイント独自のリクエスト）',
    'epf.templateHint': 'エンドポイントは、下の項目のうち別の値にしたものを除き、URL とリクエストをテンプレートから受け継ぎます。後でテンプレートを変更すると、このエンドポイントも変わります。選ぶと、下の項目にテンプレートの値が入ります。',
    'epf.templateOpen': 'テンプレートを開く',
  },
});

// The presets the API knows (internal/shape/presets.go) and their options.
export const PRESETS = {
  slack: { label: 'Slack', options: [{ name: 'message' }] },
  discord: { label: 'Discord', options: [{ name: 'message' }] },
  teams: { label: 'Microsoft Teams', options: [{ name: 'message' }, { name: 'format' }] },
  chatwork: { label: 'Chatwork', options: [{ name: 'room_id', required: true }, { name: 'api_token', required: true, secret: true }, { name: 'message' }, { name: 'self_unread' }] },
  marketo: {
    label: 'Marketo',
    options: [{ name: 'munchkin_id', required: true }, { name: 'client_id', required: true }, { name: 'client_secret', required: true, secret: true },
      { name: 'lookup_field' }, { name: 'input' }, { name: 'base_url' }],
  },
  segment: { label: 'Segment', options: [{ name: 'write_key', required: true, secret: true }, { name: 'user_id' }, { name: 'anonymous_id' }] },
};

// The destination fields of each broker kind, required ones first (as
// each kind's Check in internal/outbound/broker has them).
const DEST_KINDS = {
  nats: { required: ['url', 'subject'], optional: ['stream', 'username', 'password'] },
  rabbitmq: { required: ['url'], optional: ['exchange', 'routing_key', 'username', 'password'] },
  kafka: { required: ['brokers', 'topic'], optional: ['key', 'sasl_mechanism', 'username', 'password', 'tls'] },
  redis: { required: ['url', 'stream'], optional: ['max_len', 'username', 'password'] },
  mqtt: { required: ['url', 'topic'], optional: ['username', 'password'] },
  gcp_pubsub: { required: ['project', 'topic'], optional: ['ordering_key', 'credentials_json', 'endpoint'] },
  aws_sqs: { required: ['queue_url'], optional: ['region', 'message_group_id', 'deduplication_id', 'access_key_id', 'secret_access_key', 'endpoint'] },
};
// Every destination field, in the order the form shows them.
const DEST_FIELDS = ['url', 'brokers', 'project', 'queue_url', 'region', 'subject', 'stream', 'exchange', 'routing_key', 'topic', 'key',
  'ordering_key', 'message_group_id', 'deduplication_id', 'max_len', 'sasl_mechanism', 'tls', 'username', 'password',
  'access_key_id', 'secret_access_key', 'credentials_json', 'endpoint'];
const DEST_SECRETS = ['password', 'secret_access_key', 'credentials_json'];
const DEST_PLACEHOLDERS = {
  nats: { url: 'nats://127.0.0.1:4222', subject: 'orders.{{event_type}}', stream: 'ORDERS' },
  rabbitmq: { url: 'amqp://127.0.0.1:5672/', exchange: 'events', routing_key: '{{event_type}}' },
  kafka: { brokers: 'kafka-1:9092, kafka-2:9092', topic: 'events', key: '{{payload.customer_id}}' },
  redis: { url: 'redis://127.0.0.1:6379/0', stream: 'events' },
  mqtt: { url: 'mqtt://127.0.0.1:1883', topic: 'events/{{event_type}}' },
  gcp_pubsub: { project: 'my-project', topic: 'events', endpoint: 'http://127.0.0.1:8085' },
  aws_sqs: { queue_url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/events', region: 'eu-west-1', endpoint: 'http://127.0.0.1:4100' },
};

export const METHODS = ['POST', 'PUT', 'PATCH', 'GET', 'DELETE'];
export const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain'];
export const SYNTAX_DOC = 'https://github.com/heraldhq/herald/blob/main/docs/templates.md#tags';
const TRANSFORM_DOC = 'https://github.com/heraldhq/herald/blob/main/docs/endpoints.md#transformations';

/**
 * Whether a text is meant as JSON: an object ({ then " or }), an array of
 * JSON values or a quoted string. A tag such as {{payload}} or a text
 * such as [info]… is a text template.
 */
function looksLikeJSON(s) {
  return /^(\{\s*["}]|\[\s*([[{"\]\d-]|true|false|null)|")/.test(s);
}

/** A body template (JSON from the API) as the text the textarea shows. */
export function templateToText(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') {
    // A text template is shown bare unless it would read back as JSON.
    const s = v.trim();
    let parses = true;
    try { JSON.parse(s); } catch { parses = false; }
    return parses || looksLikeJSON(s) ? JSON.stringify(v) : v;
  }
  return JSON.stringify(v, null, 2);
}

/** The textarea's text as a body template: JSON, a text template or null. */
export function textToTemplate(text) {
  const s = text.trim();
  if (s === '') return { value: null };
  try {
    return { value: JSON.parse(s) };
  } catch (err) {
    if (looksLikeJSON(s)) return { error: t('epf.bodyJSON', { message: err.message }) };
    return { value: text };
  }
}

/** Headers typed one per line, Name: value; error names the line that is not one. */
export function parseHeaders(text) {
  const out = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const at = line.indexOf(':');
    if (at <= 0) return { error: t('epf.headerLine', { n: i + 1 }) };
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { value: out };
}

/** Preset options typed as key=value lines or a JSON object of strings. */
export function parseOptions(text) {
  const s = text.trim();
  if (s.startsWith('{')) {
    try {
      const o = JSON.parse(s);
      if (o && typeof o === 'object' && !Array.isArray(o) && Object.values(o).every((v) => typeof v === 'string')) return { value: o };
    } catch { /* reported below */ }
    return { error: t('epf.optionsJSON') };
  }
  const out = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at <= 0) return { error: t('epf.optionLine', { n: i + 1 }) };
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { value: out };
}

/** The hint of a preset's options field: the options it takes, marked. */
export function presetOptionsHint(p) {
  return p ? t('epf.presetOptionsHint', {
    options: p.options.map((o) => {
      const marks = [o.required ? t('epf.required') : '', o.secret ? t('epf.secret') : ''].filter(Boolean);
      return marks.length ? `${o.name} (${marks.join(', ')})` : o.name;
    }).join(', '),
  }) : '';
}

/** Preset options as the textarea shows them: key=value lines, or JSON for multi-line values. */
export function optionsText(o) {
  const entries = Object.entries(o || {});
  if (entries.some(([, v]) => String(v).includes('\n'))) return JSON.stringify(o, null, 2);
  return entries.map(([k, v]) => `${k}=${v}`).join('\n');
}

/** A <select> of [value, label] options; a value not among them is kept as its own option. */
export function select(options, value) {
  const values = options.map((o) => o[0]);
  const all = value && !values.includes(value) ? [...options, [value, value]] : options;
  return h('select', null, all.map(([v, label]) => h('option', { value: v, selected: v === (value || '') }, label)));
}

function numberInput(v, attrs = {}) {
  return h('input', { type: 'number', inputmode: 'decimal', value: v === null || v === undefined || v === 0 ? '' : String(v), ...attrs });
}

/**
 * findField returns the [data-field] element an API error's field names
 * (the longest one that is the field or a prefix of it), as showErrors
 * does.
 */
export function findField(form, name) {
  let best = null;
  if (!name) return null;
  for (const f of form.querySelectorAll('[data-field]')) {
    const n = f.dataset.field;
    if (!n) continue;
    if ((name === n || name.startsWith(`${n}.`) || name.startsWith(`${n}[`)) && (!best || n.length > best.dataset.field.length)) best = f;
  }
  return best;
}

/**
 * ownEntries is what of an endpoint's headers or preset options is its
 * own, given its template's: the names the template has with another
 * value, or not at all (header names compare case-insensitively).
 */
function ownEntries(mine, theirs) {
  if (!mine) return mine;
  const tpl = Object.entries(theirs || {});
  return Object.fromEntries(Object.entries(mine).filter(([k, v]) => !tpl.some(([tk, tv]) => tk.toLowerCase() === k.toLowerCase() && tv === v)));
}

function childController(parent) {
  const c = new AbortController();
  if (parent.aborted) c.abort();
  else parent.addEventListener('abort', () => c.abort(), { once: true });
  return c;
}

/**
 * The request-shape fields an endpoint and an endpoint template share,
 * from the method (methodField, its own per form) to the payload format;
 * c holds the controls by API field name.
 */
export function requestShapeFields(c, methodField) {
  return [
    h('div', { class: 'grid-2 tight' },
      methodField,
      field({ label: t('epf.contentType'), name: 'content_type', control: c.content_type })),
    h('p', { class: 'hint shape-hint' }, t('epf.shapeHint')),
    field({ label: t('epf.headers'), name: 'headers', control: c.headers, hint: t('epf.headersHint') }),
    field({ label: t('epf.plainHeaders'), name: 'plain_headers', control: c.plain_headers, hint: t('epf.plainHeadersHint') }),
    field({
      label: t('epf.bodyTemplate'),
      name: 'body_template',
      control: c.body_template,
      hint: [t('epf.bodyTemplateHint'), h('a', { href: SYNTAX_DOC, target: '_blank', rel: 'noopener noreferrer' }, t('epf.syntaxLink'))],
    }),
    h('div', { class: 'grid-2 tight' },
      field({ label: t('epf.templateSyntax'), name: 'template_syntax', control: c.template_syntax }),
      field({ label: t('epf.payloadFormat'), name: 'payload_format', control: c.payload_format })),
  ];
}

/** The form for a new endpoint, or for editing one. */
export async function form(ctx) {
  const editing = !!ctx.params.id;
  const base = `/v1/apps/${seg(ctx.app)}/endpoints`;
  const [ep, types, tpls] = await Promise.all([
    editing ? api('GET', `${base}/${seg(ctx.params.id)}`, undefined, { signal: ctx.signal }) : Promise.resolve(null),
    catalog(ctx.signal).catch((err) => {
      if (err.name === 'AbortError') throw err;
      return err;
    }),
    // The app's endpoint templates (at most 100), offered in the console,
    // where their pages are; none when they cannot be read.
    ctx.mode === 'console'
      ? api('GET', `/v1/apps/${seg(ctx.app)}/endpoint-templates?limit=100`, undefined, { signal: ctx.signal }).then((p) => p.data, (err) => {
        if (err.name === 'AbortError') throw err;
        return [];
      })
      : Promise.resolve([]),
  ]);
  const catalogError = types instanceof Error ? types : null;
  const catalogTypes = catalogError ? [] : types;
  const e = ep || { enabled: true, event_types: [], headers: {}, preset_options: {} };

  // ----- controls -----
  const known = new Set(catalogTypes.map((x) => x.name));
  const chosen = new Set((e.event_types || []).filter((x) => known.has(x)));
  const extras = (e.event_types || []).filter((x) => !known.has(x));
  // A pull endpoint is pulled with an API key, which a portal's customer
  // gets from the product, not from the portal: the portal makes push and
  // broker endpoints, and offers pull only as the fixed kind of one being
  // edited.
  const portal = ctx.mode === 'portal';
  const kinds = [['push', t('epf.kindPush')], ['pull', t('epf.kindPull')], ...BROKER_KINDS.map((k) => [k, KIND_LABELS[k]])]
    .filter(([k]) => k !== 'pull' || !portal || editing);
  const c = {
    kind: select(kinds, e.kind || 'push'),
    url: h('input', { type: 'url', value: e.url || '', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'https://' }),
    description: h('input', { type: 'text', value: e.description || '', autocomplete: 'off' }),
    extra: h('input', { type: 'text', id: 'event-types-extra', value: extras.join(', '), autocomplete: 'off', spellcheck: 'false', placeholder: 'form.*, group:forms' }),
    filter: h('textarea', { rows: '3', class: 'short', spellcheck: 'false', placeholder: 'payload.amount > 100' }),
    stage: select([['live', t('epf.stageLive')], ['test', t('epf.stageTest')]], e.stage || 'live'),
    test_filter: h('textarea', { rows: '2', class: 'short', spellcheck: 'false', placeholder: 'payload.user_id in ["u1", "u2"]' }),
    preset: select([['', t('epf.presetNone')], ...Object.entries(PRESETS).map(([k, p]) => [k, p.label])], e.preset || ''),
    preset_options: h('textarea', { rows: '4', class: 'short', spellcheck: 'false' }),
    method: select([['', t('epf.defaultMethod')], ...METHODS.map((m) => [m, m])], e.method || ''),
    content_type: select([['', t('epf.defaultContentType')], ...CONTENT_TYPES.map((x) => [x, x])], e.content_type || ''),
    headers: h('textarea', { rows: '4', class: 'short', spellcheck: 'false', placeholder: 'X-Source: herald' }),
    plain_headers: h('input', { type: 'text', value: (e.plain_headers || []).join(', '), autocomplete: 'off', spellcheck: 'false', placeholder: 'X-Source' }),
    body_template: h('textarea', { rows: '10', spellcheck: 'false', placeholder: '{"lead": "{{payload}}", "name": "{{name | default:\\"?\\"}}"}' }),
    transformation: h('textarea', { rows: '10', spellcheck: 'false', autocapitalize: 'off', placeholder: 'function handler(webhook) {\n  webhook.payload.source = "herald";\n  return webhook;\n}' }),
    template_syntax: select([['', t('epf.appDefault')], ['braces', t('epf.syntaxBraces')], ['hash', t('epf.syntaxHash')]], e.template_syntax || ''),
    payload_format: select([['', t('epf.appDefault')], ['standard', t('epf.formatStandard')], ['raw', t('epf.formatRaw')], ['flat', t('epf.formatFlat')]], e.payload_format || ''),
    enabled: h('input', { type: 'checkbox', role: 'switch', class: 'switch', checked: e.enabled !== false }),
    template_strict: h('input', { type: 'checkbox', checked: !!e.template_strict }),
    retry_schedule: h('input', { type: 'text', value: e.retry_schedule || '', placeholder: '5s,1m,10m,1h', spellcheck: 'false', autocomplete: 'off' }),
    timeout_ms: numberInput(e.timeout_ms, { min: '1', step: '1', inputmode: 'numeric' }),
    max_in_flight: numberInput(e.max_in_flight, { min: '1', step: '1', inputmode: 'numeric' }),
    rate_limit: numberInput(e.rate_limit, { min: '0', step: 'any' }),
    batch_max_events: numberInput(e.batch && e.batch.max_events, { min: '2', max: '1000', step: '1', inputmode: 'numeric' }),
    batch_max_wait_ms: numberInput(e.batch && e.batch.max_wait_ms, { min: '0', max: '60000', step: '1', inputmode: 'numeric' }),
    batch_max_bytes: numberInput(e.batch && e.batch.max_bytes, { min: '0', step: '1', inputmode: 'numeric' }),
    batch_element: select([['', t('epf.batchElementStandard')], ['body', t('epf.batchElementBody')]], (e.batch && e.batch.element === 'body') ? 'body' : ''),
    batch_body_template: h('textarea', { rows: '4', class: 'short', spellcheck: 'false', placeholder: '{"records": "{{batch.events}}", "count": "{{batch.size}}"}' }),
    ordering_key_template: h('input', { type: 'text', value: e.ordering_key_template || '', placeholder: '{{payload.conversation.id}}', spellcheck: 'false', autocomplete: 'off' }),
    ordering_on_failure: select([['', t('epf.orderingUnblock')], ['pause', t('epf.orderingPause')]], e.ordering_on_failure === 'pause' ? 'pause' : ''),
    sample_rate: h('input', { type: 'number', inputmode: 'decimal', min: '0', max: '100', step: 'any', value: e.sample_rate === null || e.sample_rate === undefined ? '' : String(e.sample_rate) }),
    signature_scheme: select([['v1', t('epf.v1')], ['v1a', t('epf.v1a')]], e.signature_scheme || 'v1'),
    channels: h('input', { type: 'text', value: (e.channels || []).join(', '), autocomplete: 'off', spellcheck: 'false', placeholder: 'form-42, form-43' }),
    uid: h('input', { type: 'text', value: e.uid || '', autocomplete: 'off', spellcheck: 'false' }),
    webhook_headers: select([['', t('epf.headersApp')], ['standard', t('epf.headersStandard')], ['svix', t('epf.headersSvix')]], e.webhook_headers || ''),
    endpoint_template_id: select([['', t('epf.templateNone')], ...tpls.map((x) => [x.id, x.name])], e.endpoint_template_id || ''),
  };
  // Textareas take their text as value after creation.
  c.filter.value = e.filter || '';
  c.test_filter.value = e.test_filter || '';
  c.headers.value = headerLines(Object.fromEntries(Object.entries(e.headers || {}).sort(([a], [b]) => a.localeCompare(b))));
  c.body_template.value = templateToText(e.body_template);
  c.batch_body_template.value = templateToText(e.batch && e.batch.body_template);
  c.transformation.value = e.transformation || '';
  c.preset_options.value = optionsText(e.preset_options);

  // ----- destination (broker kinds) -----
  const dest = e.destination || {};
  const dc = {};
  const destFields = {};
  const destHints = {};
  for (const name of DEST_FIELDS) {
    const v = dest[name];
    let control;
    if (name === 'tls') control = h('input', { type: 'checkbox', checked: !!v });
    else if (name === 'sasl_mechanism') {
      control = select([['', t('epf.dest.saslNone')], ['plain', 'PLAIN'], ['scram-sha-256', 'SCRAM-SHA-256'], ['scram-sha-512', 'SCRAM-SHA-512']], v || '');
    } else if (name === 'max_len') control = numberInput(v, { min: '0', step: '1', inputmode: 'numeric' });
    else {
      const secret = DEST_SECRETS.includes(name);
      control = h('input', {
        type: secret ? 'password' : 'text',
        value: name === 'brokers' ? (v || []).join(', ') : (v || ''),
        autocomplete: secret ? 'new-password' : 'off',
        spellcheck: 'false',
      });
    }
    dc[name] = control;
    destHints[name] = h('span');
    destFields[name] = field({ label: t(`epf.dest.${name}`), name: `destination.${name}`, control, hint: destHints[name] });
  }
  let destTouched = editing;
  const destBox = h('fieldset', { class: 'bare destination', id: 'destination-fields' },
    h('legend', { class: 'visually-hidden' }, t('epf.destination')),
    DEST_FIELDS.map((n) => destFields[n]));
  destBox.addEventListener('input', () => { destTouched = true; });

  const boxes = catalogTypes.map((x) => h('input', { type: 'checkbox', value: x.name, checked: chosen.has(x.name) }));
  // A versioned type gets a choice of the version the endpoint is pinned
  // to; pins of other types (and "*") are kept as they are.
  const pins = e.event_type_versions || {};
  const versionSelects = catalogTypes.map((x) => {
    if (!x.versions || x.versions.length === 0) return null;
    const sel = h('select', { class: 'type-version', 'aria-label': t('epf.versionOf', { name: x.name }), dataset: { type: x.name } },
      h('option', { value: '\u0000' }, t('epf.versionLatest', { version: x.latest_version })),
      h('option', { value: '' }, t('epf.versionFirst')),
      x.versions.map((v) => h('option', { value: v.version }, v.version)));
    sel.value = Object.prototype.hasOwnProperty.call(pins, x.name) ? pins[x.name] : '\u0000';
    return sel;
  });
  const typeErrId = newId('f');
  const typeHintId = newId('f');
  const extraHintId = newId('f');
  for (const b of boxes) b.setAttribute('aria-describedby', typeErrId);
  c.extra.setAttribute('aria-describedby', `${extraHintId} ${typeErrId}`);
  const typesField = h('fieldset', { class: 'field type-field', dataset: { field: 'event_types' }, 'aria-describedby': typeHintId },
    h('legend', null, t('epf.eventTypes')),
    h('p', { class: 'hint', id: typeHintId }, t('epf.eventTypesHint')),
    h('p', { class: 'field-error', id: typeErrId, 'aria-live': 'polite' }),
    catalogError ? h('p', { class: 'form-error' }, t('epf.catalogError', { message: catalogError.message })) : null,
    !catalogError && catalogTypes.length === 0 ? h('p', { class: 'hint' }, t('epf.noCatalog')) : null,
    boxes.length ? h('ul', { class: 'type-list' }, catalogTypes.map((x, i) => h('li', null,
      h('label', { class: 'type-option' },
        boxes[i],
        h('span', { class: 'type-text' },
          h('span', { class: 'mono type-name' }, x.name),
          x.group ? h('span', { class: 'badge badge-group' }, x.group) : null,
          x.deprecated ? h('span', { class: 'badge badge-pending' }, t('epf.deprecated')) : null,
          x.description ? h('span', { class: 'type-desc muted' }, x.description) : null)),
      versionSelects[i]))) : null,
    h('div', { class: 'type-extra' },
      h('label', { for: c.extra.id }, t('epf.extra')),
      c.extra,
      h('p', { class: 'hint', id: extraHintId }, t('epf.extraHint'))));

  const presetHint = h('span');
  const optionsField = field({ label: t('epf.presetOptions'), name: 'preset_options', control: c.preset_options, hint: presetHint });
  const presetDoc = h('span');
  const presetField = field({ label: t('epf.preset'), name: 'preset', control: c.preset, hint: presetDoc });
  // The kind is chosen once, at creation.
  c.kind.disabled = editing;
  const kindHint = h('span');
  const kindField = field({ label: t('epf.kind'), name: 'kind', control: c.kind, hint: kindHint });
  const urlField = field({ label: t('epf.url'), name: 'url', control: c.url, hint: t('epf.urlHint') });
  // An endpoint template: choosing one fills the request fields with its
  // values, which the endpoint then takes from it unless changed.
  const templateLink = h('a', { id: 'endpoint-template-open', hidden: true }, t('epf.templateOpen'));
  const templateField = field({ label: t('epf.template'), name: 'endpoint_template_id', control: c.endpoint_template_id, hint: t('epf.templateHint') });
  // The fields this endpoint sets itself, while it keeps its template.
  const ownFields = e.endpoint_template_id && (e.template_overrides || []).length
    ? h('p', { class: 'hint', id: 'endpoint-template-own' }, t('ep.templateOwn', { list: e.template_overrides.join(', ') })) : null;
  templateField.append(h('p', { class: 'hint' }, templateLink), ownFields || '');
  const offersTemplates = ctx.mode === 'console' && (tpls.length > 0 || !!e.endpoint_template_id);
  const chosenTemplate = () => tpls.find((x) => x.id === c.endpoint_template_id.value) || null;
  const showTemplateLink = () => {
    const id = c.endpoint_template_id.value;
    templateLink.hidden = !id;
    if (ownFields) ownFields.hidden = id !== e.endpoint_template_id;
    if (id) templateLink.href = ctx.appHref(`/endpoint-templates/${seg(id)}`);
  };
  c.endpoint_template_id.addEventListener('change', () => {
    showTemplateLink();
    const x = chosenTemplate();
    if (!x) return;
    c.url.value = x.url || '';
    c.method.value = x.method || '';
    c.content_type.value = x.content_type || '';
    c.headers.value = headerLines(Object.fromEntries(Object.entries(x.headers || {}).sort(([a], [b]) => a.localeCompare(b))));
    c.plain_headers.value = (x.plain_headers || []).join(', ');
    c.body_template.value = templateToText(x.body_template);
    c.template_syntax.value = x.template_syntax || '';
    c.payload_format.value = x.payload_format || '';
    c.template_strict.checked = !!x.template_strict;
    c.preset.value = x.preset || '';
    c.preset_options.value = optionsText(x.preset_options);
    urlTouched = true;
    showPreset();
  });
  showTemplateLink();
  const methodField = field({ label: t('epf.method'), name: 'method', control: c.method });
  const pull = () => c.kind.value === 'pull';
  const broker = () => isBroker(c.kind.value);
  const previewIntro = h('p', { class: 'hint' });
  const showPreset = () => {
    // A pull endpoint is never dialled: no URL, no preset. A broker
    // endpoint has its address in its destination, and no HTTP request.
    const b = broker();
    urlField.hidden = pull() || b;
    templateField.hidden = pull() || b || !offersTemplates;
    presetField.hidden = pull() || b;
    methodField.hidden = b;
    c.url.required = !pull() && !b;
    kindHint.textContent = b || (portal && !pull()) ? t('epf.kindBrokerHint') : t('epf.kindHint');
    previewIntro.textContent = b ? t('epf.previewIntroBroker') : t('epf.previewIntro');
    destBox.hidden = !b;
    const spec = DEST_KINDS[c.kind.value];
    const ph = DEST_PLACEHOLDERS[c.kind.value] || {};
    for (const name of DEST_FIELDS) {
      const on = !!spec && (spec.required.includes(name) || spec.optional.includes(name));
      destFields[name].hidden = !on;
      dc[name].required = on && spec.required.includes(name);
      if (ph[name]) dc[name].placeholder = ph[name]; else dc[name].removeAttribute('placeholder');
      const own = t(`epf.destHint.${c.kind.value}.${name}`);
      const shared = t(`epf.destHint.${name}`);
      let hint = own !== `epf.destHint.${c.kind.value}.${name}` ? own : shared !== `epf.destHint.${name}` ? shared : '';
      if (name !== 'credentials_json' && DEST_SECRETS.includes(name)) hint = t('epf.destSecretHint');
      destHints[name].textContent = hint;
      if (destHints[name].parentElement) destHints[name].parentElement.hidden = !hint;
    }
    const p = pull() || b ? null : PRESETS[c.preset.value];
    optionsField.hidden = !p;
    presetDoc.textContent = p ? t(`epf.preset.${c.preset.value}`) : '';
    if (presetDoc.parentElement) presetDoc.parentElement.hidden = !p;
    presetHint.textContent = presetOptionsHint(p);
  };

  const tuned = editing && !!(e.retry_schedule || e.timeout_ms || e.max_in_flight || e.rate_limit
    || (e.sample_rate !== null && e.sample_rate !== undefined) || e.signature_scheme === 'v1a' || e.template_strict || e.uid || e.webhook_headers
    || e.ordering_key_template || e.ordering_on_failure || e.batch);
  const tuningFields = [
    field({ label: t('epf.retry'), name: 'retry_schedule', control: c.retry_schedule, hint: t('epf.retryHint') }),
    field({ label: t('epf.timeout'), name: 'timeout_ms', control: c.timeout_ms, hint: t('epf.inheritHint') }),
    field({ label: t('epf.maxInFlight'), name: 'max_in_flight', control: c.max_in_flight, hint: t('epf.inheritHint') }),
    field({ label: t('epf.rateLimit'), name: 'rate_limit', control: c.rate_limit, hint: t('epf.rateLimitHint') }),
    field({ label: t('epf.batchMaxEvents'), name: 'batch.max_events', control: c.batch_max_events, hint: t('epf.batchMaxEventsHint') }),
    field({ label: t('epf.batchMaxWait'), name: 'batch.max_wait_ms', control: c.batch_max_wait_ms, hint: t('epf.batchMaxWaitHint') }),
    field({ label: t('epf.batchMaxBytes'), name: 'batch.max_bytes', control: c.batch_max_bytes, hint: t('epf.batchMaxBytesHint') }),
    field({ label: t('epf.batchElement'), name: 'batch.element', control: c.batch_element, hint: t('epf.batchElementHint') }),
    field({ label: t('epf.batchBodyTemplate'), name: 'batch.body_template', control: c.batch_body_template, hint: t('epf.batchBodyTemplateHint') }),
    field({ label: t('epf.sampleRate'), name: 'sample_rate', control: c.sample_rate, hint: t('epf.sampleRateHint') }),
    field({ label: t('epf.orderingKey'), name: 'ordering_key_template', control: c.ordering_key_template, hint: t('epf.orderingKeyHint') }),
    field({ label: t('epf.orderingOnFailure'), name: 'ordering_on_failure', control: c.ordering_on_failure }),
    field({ label: t('epf.signature'), name: 'signature_scheme', control: c.signature_scheme, hint: editing ? t('epf.signatureHint') : null }),
    field({ label: t('epf.webhookHeaders'), name: 'webhook_headers', control: c.webhook_headers }),
    field({ label: t('epf.uid'), name: 'uid', control: c.uid, hint: t('epf.uidHint') }),
    field({ label: t('epf.strict'), name: 'template_strict', control: c.template_strict }),
  ];
  const testFilterField = field({ label: t('epf.testFilter'), name: 'test_filter', control: c.test_filter, hint: t('epf.testFilterHint') });
  const showStage = () => { testFilterField.hidden = c.stage.value !== 'test'; };
  c.stage.addEventListener('change', showStage);
  showStage();
  const stageFields = [field({ label: t('epf.stage'), name: 'stage', control: c.stage, hint: t('epf.stageHint') }), testFilterField];
  // Whoever may not touch signing secrets (a developer's portal session)
  // cannot change the scheme either: a new scheme is a new secret.
  c.signature_scheme.disabled = editing && !ctx.secrets;
  const channelsField = field({ label: t('epf.channels'), name: 'channels', control: c.channels, hint: t('epf.channelsHint') });
  // The channels the app's events used lately, to pick from (a
  // customer's forms); typing one still works.
  const channelChoices = h('p', { class: 'channel-choices' });
  channelsField.append(channelChoices);
  api('GET', `/v1/apps/${seg(ctx.app)}/channels`, undefined, { signal: ctx.signal }).then((res) => {
    const found = (res && res.data) || [];
    if (found.length === 0) return;
    const chosen = () => c.channels.value.split(',').map((x) => x.trim()).filter(Boolean);
    replace(channelChoices, h('span', { class: 'hint' }, t('epf.channelsPick')), ' ',
      found.map((ch) => h('button', {
        type: 'button',
        class: 'chip mono',
        'aria-label': t('epf.channelAdd', { channel: ch }),
        onclick: () => {
          const cur = chosen();
          if (!cur.includes(ch)) c.channels.value = [...cur, ch].join(', ');
        },
      }, ch)));
  }).catch(() => {});
  const descriptionField = field({ label: t('epf.description'), name: 'description', control: c.description });
  const enabledField = field({ label: t('epf.enabled'), name: 'enabled', control: c.enabled });
  const shaping = [
    field({ label: t('epf.filter'), name: 'filter', control: c.filter, hint: t('epf.filterHint') }),
    presetField,
    optionsField,
    ...requestShapeFields(c, methodField),
    field({
      label: t('epf.transformation'),
      name: 'transformation',
      control: c.transformation,
      hint: [t('epf.transformationHint'), h('a', { href: TRANSFORM_DOC, target: '_blank', rel: 'noopener noreferrer' }, t('epf.transformationLink'))],
    }),
  ];
  // The console keeps every setting in view and folds the delivery
  // tuning; the portal's customers see the essentials (URL, event types,
  // enabled) first, and everything else folded under Advanced, opened
  // when an endpoint already uses one of those settings.
  const shaped = editing && !!(e.filter || e.preset || e.method || e.content_type || Object.keys(e.headers || {}).length
    || (e.plain_headers || []).length || e.body_template || e.template_syntax || e.payload_format || e.transformation);
  const advanced = h('details', { class: 'advanced', id: 'endpoint-advanced', open: tuned || (portal && shaped) },
    h('summary', null, t('epf.advanced')),
    portal ? [shaping, h('hr')] : null,
    tuningFields);
  const layoutFields = portal
    ? [kindField, urlField, destBox, typesField, channelsField, enabledField, stageFields, descriptionField, advanced]
    : [kindField, templateField, urlField, destBox, descriptionField, typesField, channelsField, shaping, stageFields, enabledField, advanced];

  const save = ctx.readOnly ? null : h('button', { type: 'submit', class: 'primary' }, editing ? t('action.save') : t('action.create'));
  const detailHref = editing ? ctx.appHref(`/endpoints/${seg(e.id)}`) : ctx.appHref('/endpoints');
  const frm = h('form', { id: 'endpoint-form', class: 'card', novalidate: true },
    h('fieldset', { class: 'bare', disabled: ctx.readOnly }, layoutFields),
    h('div', { class: 'actions' }, save,
      h('a', { class: 'button', href: detailHref }, ctx.readOnly ? t('action.back') : t('action.cancel'))));
  showPreset();

  // ----- reading the form -----

  /** The form as an endpoint input; error: the first thing that cannot be read. */
  const collect = () => {
    const out = {};
    let error = null;
    const fail = (name, message) => { if (!error) error = { field: name, message, local: true }; };
    out.kind = c.kind.value;
    out.url = pull() || broker() ? '' : c.url.value.trim();
    out.description = c.description.value;
    const extra = c.extra.value.split(',').map((x) => x.trim()).filter(Boolean);
    out.event_types = [...boxes.filter((b) => b.checked).map((b) => b.value), ...extra];
    const pinned = { ...pins };
    for (const sel of versionSelects) {
      if (!sel) continue;
      if (sel.value === '\u0000') delete pinned[sel.dataset.type]; else pinned[sel.dataset.type] = sel.value;
    }
    out.event_type_versions = pinned;
    out.filter = c.filter.value.trim();
    out.stage = c.stage.value;
    out.test_filter = c.test_filter.value.trim();
    out.preset = pull() || broker() ? '' : c.preset.value;
    if (out.preset) {
      const o = parseOptions(c.preset_options.value);
      if (o.error) fail('preset_options', o.error); else out.preset_options = o.value;
    } else {
      out.preset_options = {};
    }
    out.method = broker() ? '' : c.method.value;
    if (broker()) {
      // The kind's fields only, replaced whole: a masked secret sent back
      // keeps the stored one.
      const spec = DEST_KINDS[c.kind.value];
      const d = {};
      for (const name of [...spec.required, ...spec.optional]) {
        const el = dc[name];
        if (name === 'tls') { if (el.checked) d.tls = true; continue; }
        if (name === 'max_len') {
          if (el.validity && el.validity.badInput) { fail(`destination.${name}`, t('epf.notNumber')); continue; }
          if (el.value.trim() !== '') d.max_len = Number(el.value);
          continue;
        }
        if (name === 'brokers') {
          const list = el.value.split(',').map((x) => x.trim()).filter(Boolean);
          if (list.length) d.brokers = list;
          continue;
        }
        const v = DEST_SECRETS.includes(name) ? el.value : el.value.trim();
        if (v !== '') d[name] = v;
      }
      out.destination = d;
    }
    out.content_type = c.content_type.value;
    const hd = parseHeaders(c.headers.value);
    if (hd.error) fail('headers', hd.error); else out.headers = hd.value;
    out.plain_headers = c.plain_headers.value.split(',').map((x) => x.trim()).filter(Boolean);
    const bt = textToTemplate(c.body_template.value);
    if (bt.error) fail('body_template', bt.error); else out.body_template = bt.value;
    out.transformation = c.transformation.value;
    out.template_syntax = c.template_syntax.value;
    out.payload_format = c.payload_format.value;
    out.enabled = c.enabled.checked;
    out.template_strict = c.template_strict.checked;
    out.retry_schedule = c.retry_schedule.value.trim();
    out.ordering_key_template = c.ordering_key_template.value.trim();
    out.ordering_on_failure = c.ordering_on_failure.value;
    const num = (name, empty) => {
      const el = c[name];
      if (el.validity && el.validity.badInput) { fail(name, t('epf.notNumber')); return; }
      if (el.value.trim() === '') { if (empty !== undefined) out[name] = empty; return; }
      out[name] = Number(el.value);
    };
    num('timeout_ms', undefined);
    num('max_in_flight', undefined);
    num('rate_limit', 0);
    num('sample_rate', null);
    // The batch fields make one setting: without its numbers, no batch.
    const batchNum = (name, field) => {
      const el = c[name];
      if (el.validity && el.validity.badInput) { fail(field, t('epf.notNumber')); return undefined; }
      return el.value.trim() === '' ? undefined : Number(el.value);
    };
    const bn = batchNum('batch_max_events', 'batch.max_events');
    const bw = batchNum('batch_max_wait_ms', 'batch.max_wait_ms');
    const bb = batchNum('batch_max_bytes', 'batch.max_bytes');
    if (bn === undefined && bw === undefined && bb === undefined) {
      out.batch = null;
    } else {
      out.batch = { max_events: bn === undefined ? 0 : bn, max_wait_ms: bw || 0 };
      if (bb) out.batch.max_bytes = bb;
      if (c.batch_element.value) out.batch.element = c.batch_element.value;
      const bbt = textToTemplate(c.batch_body_template.value);
      if (bbt.error) fail('batch.body_template', bbt.error); else if (bbt.value !== null) out.batch.body_template = bbt.value;
    }
    out.signature_scheme = c.signature_scheme.value;
    out.channels = c.channels.value.split(',').map((x) => x.trim()).filter(Boolean);
    out.webhook_headers = c.webhook_headers.value;
    out.uid = c.uid.value.trim();
    if (!templateField.hidden) {
      out.endpoint_template_id = c.endpoint_template_id.value || null;
      // With a template, the headers and preset options the template
      // has with the same value (masked ones as shown) are its, not the
      // endpoint's own: they are left out rather than sent back masked.
      const x = chosenTemplate();
      if (x) {
        out.headers = ownEntries(out.headers, x.headers);
        out.preset_options = ownEntries(out.preset_options, x.preset_options);
      }
    }
    return { input: out, error };
  };
  // What the form held when it was filled, to send only what changed.
  const initial = collect().input;
  const initialText = { headers: c.headers.value, preset_options: c.preset_options.value };
  const changed = (input) => {
    const out = {};
    for (const [k, v] of Object.entries(input)) {
      if (k === 'headers' || k === 'preset_options') continue;
      if (JSON.stringify(v) !== JSON.stringify(initial[k])) out[k] = v;
    }
    for (const k of ['timeout_ms', 'max_in_flight']) {
      // Emptied: sent as 0, so that the API says what it accepts.
      if (input[k] === undefined && initial[k] !== undefined) out[k] = 0;
    }
    // Headers and preset options come back masked: they are sent only
    // when their text was edited (a masked value sent back keeps the
    // stored one, so editing one line leaves the others as they were).
    if (c.headers.value !== initialText.headers && input.headers) out.headers = input.headers;
    if ((c.preset_options.value !== initialText.preset_options || input.preset !== initial.preset) && input.preset_options) {
      out.preset_options = input.preset_options;
    }
    return out;
  };

  /** Puts an error by its field; opens the Advanced section if it is there. */
  const showFormErrors = (err, prefix = '') => {
    let name = err.field || '';
    if (prefix && name.startsWith(prefix)) name = name.slice(prefix.length);
    const target = findField(frm, name);
    if (target && advanced.contains(target)) advanced.open = true;
    showErrors(frm, err, prefix);
  };

  frm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (ctx.readOnly) return;
    clearErrors(frm);
    const { input, error } = collect();
    if (error) { showFormErrors(error); return; }
    let body = input;
    if (!editing && body.endpoint_template_id === null) delete body.endpoint_template_id;
    if (editing) {
      body = changed(input);
      if (Object.keys(body).length === 0) {
        toast(t('epf.noChanges'));
        ctx.navigate(detailHref);
        return;
      }
    }
    save.disabled = true;
    try {
      const out = editing
        ? await api('PATCH', `${base}/${seg(e.id)}`, body, { signal: ctx.signal })
        : await api('POST', base, body, { signal: ctx.signal });
      toast(editing ? t('saved') : t('epf.created'));
      ctx.navigate(ctx.appHref(`/endpoints/${seg(out.id)}`));
    } catch (err) {
      if (err.name === 'AbortError') return;
      // What was typed stays; the API's message sits by its field.
      showFormErrors(err);
    } finally {
      save.disabled = false;
    }
  });

  // ----- live preview -----
  const previewType = h('select', { id: 'preview-event-type' }, catalogTypes.map((x) => h('option', { value: x.name }, x.name)));
  let previewTypeTouched = false;
  const firstChosen = () => {
    const b = boxes.find((x) => x.checked);
    return b ? b.value : '';
  };
  const syncPreviewType = () => {
    if (previewTypeTouched) return;
    const want = firstChosen() || (catalogTypes[0] && catalogTypes[0].name) || '';
    if (want) previewType.value = want;
  };
  syncPreviewType();
  const previewError = h('p', { id: 'preview-error', role: 'alert', class: 'form-error', hidden: true });
  const previewBody = h('div', { class: 'preview-body' });
  const previewState = h('p', { class: 'muted preview-state' });
  const previewSection = h('section', { id: 'preview', class: 'card preview', 'aria-live': 'polite', 'aria-labelledby': 'preview-heading' },
    h('h2', { id: 'preview-heading' }, t('epf.preview')),
    previewIntro,
    field({ label: t('epf.previewType'), name: '', control: previewType }),
    previewError,
    previewState,
    previewBody);

  let urlTouched = editing;
  c.url.addEventListener('input', () => { urlTouched = true; });
  let marked = []; // fields the preview marked, cleared by the next preview
  const unmark = () => {
    for (const f of marked) {
      const msg = f.querySelector('.field-error');
      if (msg) msg.textContent = '';
      for (const el of f.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    }
    marked = [];
  };
  const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  const showPreviewError = (err) => {
    unmark();
    previewBody.classList.add('stale');
    setText(previewError, err.message || String(err));
    previewError.hidden = false;
    // Next to the field too, without moving the focus from where the
    // user is typing.
    let name = err.field || '';
    if (name.startsWith('endpoint.')) name = name.slice('endpoint.'.length);
    const f = findField(frm, name);
    if (f) {
      const msg = f.querySelector('.field-error');
      if (msg) setText(msg, err.message);
      const control = f.querySelector('input, select, textarea');
      if (control) control.setAttribute('aria-invalid', 'true');
      if (advanced.contains(f)) advanced.open = true;
      marked.push(f);
    }
  };
  const clearPreviewError = () => {
    unmark();
    previewBody.classList.remove('stale');
    previewError.hidden = true;
    setText(previewError, '');
  };
  const renderPreview = (out) => {
    if (out.cancelled) {
      replace(previewBody, h('p', { class: 'muted preview-cancelled' }, t('epf.previewCancelled')));
      return;
    }
    const hdrs = Object.fromEntries(Object.entries(out.headers || {}).sort(([a], [b]) => a.localeCompare(b)));
    const publish = out.method === 'PUBLISH';
    replace(previewBody,
      h('h3', null, publish ? t('epf.publishedTo') : t('epf.requestLine')),
      publish ? codeBlock(out.url, t('epf.publishedTo')) : codeBlock(`${out.method} ${out.url}`, t('epf.requestLine')),
      h('h3', null, t('epf.previewHeaders')),
      codeBlock(headerLines(hdrs), t('epf.previewHeaders')),
      h('h3', null, t('epf.previewBody')),
      out.body ? codeBlock(pretty(out.body), t('epf.previewBody')) : h('p', { class: 'muted' }, t('epf.noBody')));
  };

  let timer = 0;
  let inflight = null;
  ctx.onLeave(() => { clearTimeout(timer); if (inflight) inflight.abort(); });
  const runPreview = async () => {
    if (inflight) inflight.abort();
    const { input, error } = collect();
    if (error) { showPreviewError(error); setText(previewState, ''); return; }
    if (!previewType.value) {
      clearPreviewError();
      setText(previewState, t('epf.previewNoTypes'));
      replace(previewBody);
      return;
    }
    if (ep && ep.flat_event_key) input.flat_event_key = ep.flat_event_key;
    const ctl = childController(ctx.signal);
    inflight = ctl;
    setText(previewState, t('epf.previewLoading'));
    try {
      const out = await api('POST', `${base}/preview`, { endpoint: input, event_type: previewType.value }, { signal: ctl.signal });
      if (ctl.signal.aborted) return;
      clearPreviewError();
      setText(previewState, '');
      renderPreview(out);
    } catch (err) {
      if (err.name === 'AbortError' || ctl.signal.aborted) return;
      setText(previewState, '');
      if (err.field === 'endpoint.url' && err.code === 'required' && !urlTouched) {
        // A new form: nothing is wrong yet, the URL is just not typed.
        clearPreviewError();
        setText(previewState, t('epf.previewNeedsUrl'));
        replace(previewBody);
        return;
      }
      if (broker() && !destTouched && (err.field || '').startsWith('endpoint.destination')) {
        // Likewise for a destination not yet filled in.
        clearPreviewError();
        setText(previewState, t('epf.previewNeedsDest'));
        replace(previewBody);
        return;
      }
      showPreviewError(err);
    } finally {
      if (inflight === ctl) inflight = null;
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(runPreview, 300);
  };
  frm.addEventListener('input', schedule);
  frm.addEventListener('change', (ev) => {
    if (ev.target === c.preset || ev.target === c.kind) showPreset();
    if (boxes.includes(ev.target)) syncPreviewType();
    schedule();
  });
  previewType.addEventListener('change', () => { previewTypeTouched = true; schedule(); });
  runPreview();

  const title = ctx.readOnly ? t('epf.viewTitle') : editing ? t('epf.editTitle') : t('epf.newTitle');
  return h('section', { class: 'endpoint-form-page' },
    pageHeader(title),
    editing ? h('p', { class: 'mono muted' }, endpointLabel(e)) : null,
    h('div', { class: 'grid-2 form-with-preview' }, frm, previewSection));
}
