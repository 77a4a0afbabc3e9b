import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';

/**
 * Checks an OpenAPI 3.1 document against itself (structure) and real responses against it (schemas), so
 * the document kept in the repository cannot drift from the code. Schemas are JSON Schema 2020-12, the
 * OpenAPI 3.1 dialect, validated by Ajv in strict mode: a misspelt keyword is an error, not a no-op.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const STATUS_KEY_RE = /^(?:[1-5][0-9][0-9]|[1-5]XX|default)$/;
const SCHEMAS_PREFIX = '#/components/schemas/';

export interface OpenApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The raw body; `undefined` or empty when there is none. */
  text: string | undefined;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function loadOpenApi(url: URL): JsonObject {
  const doc: unknown = JSON.parse(readFileSync(url, 'utf8'));
  if (!isObject(doc)) throw new Error(`${url.pathname}: not a JSON object`);
  return doc;
}

/** RFC 6901: `#/a/b~1c` → the value, or undefined. */
function resolvePointer(doc: JsonObject, ref: string): Json | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: Json | undefined = doc;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) node = node[Number(key)];
    else if (isObject(node)) node = Object.hasOwn(node, key) ? node[key] : undefined;
    else return undefined;
  }
  return node;
}

/** Follows `$ref`s of OpenAPI objects (responses, parameters, headers...) to the object itself. */
function deref(doc: JsonObject, value: Json | undefined): JsonObject | undefined {
  let node = value;
  for (let hops = 0; isObject(node) && typeof node.$ref === 'string'; hops += 1) {
    if (hops > 10) return undefined;
    node = resolvePointer(doc, node.$ref);
  }
  return isObject(node) ? node : undefined;
}

function walk(node: Json, path: string, visit: (node: JsonObject, path: string) => void): void {
  if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${path}/${i}`, visit));
  else if (isObject(node)) {
    visit(node, path);
    for (const [key, value] of Object.entries(node)) walk(value, `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`, visit);
  }
}

/** Ajv can resolve `#/components/schemas/X` only inside a schema: they become refs into one schema resource. */
function retarget(node: Json, base: string): Json {
  if (Array.isArray(node)) return node.map((item) => retarget(item, base));
  if (!isObject(node)) return node;
  return Object.fromEntries(
    Object.entries(node).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith(SCHEMAS_PREFIX) ? `${base}#/$defs/${value.slice(SCHEMAS_PREFIX.length)}` : retarget(value, base),
    ]),
  );
}

export interface OperationRef {
  path: string;
  method: string;
  operation: JsonObject;
  pathItem: JsonObject;
}

export function operations(doc: JsonObject): OperationRef[] {
  const paths = isObject(doc.paths) ? doc.paths : {};
  return Object.entries(paths).flatMap(([path, item]) => {
    const pathItem = deref(doc, item);
    if (!pathItem) return [];
    return HTTP_METHODS.filter((m) => isObject(pathItem[m])).map((method) => ({ path, method, operation: pathItem[method] as JsonObject, pathItem }));
  });
}

function formatErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('; ');
}

export interface OpenApiChecker {
  readonly doc: JsonObject;
  /** Everything structurally wrong with the document; empty when it is sound. */
  problems(): string[];
  /**
   * What is wrong with a real answer to `method concretePath`: the path and status must be declared (exactly:
   * neither `default` nor a range is accepted), the body must match the declared content, and every required
   * header must be there and match its schema. Empty when it conforms.
   */
  responseProblems(method: string, concretePath: string, response: OpenApiResponse): string[];
  /** What is wrong with a request body the test sends, against the operation's `requestBody`. */
  requestProblems(method: string, concretePath: string, contentType: string, body: unknown): string[];
  /** What is wrong with `value` as an instance of `#/components/schemas/<name>`. */
  componentProblems(name: string, value: unknown): string[];
  /** The documented operation a request goes to (`GET /api/v1/users/{id}`), if any. */
  operationOf(method: string, concretePath: string): string | undefined;
}

export function openApiChecker(doc: JsonObject, name: string): OpenApiChecker {
  const base = `urn:portcullis:openapi:${name}`;
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  formats.default(ajv);
  const components = isObject(doc.components) ? doc.components : {};
  const schemas = isObject(components.schemas) ? components.schemas : {};
  let addError: string | undefined;
  try {
    // Validates every component schema against the 2020-12 meta-schema.
    ajv.addSchema({ $id: base, $defs: retarget(schemas, base) });
  } catch (error) {
    addError = (error as Error).message;
  }
  const compiled = new Map<string, ValidateFunction>();

  function validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let fn = compiled.get(key);
    if (!fn) {
      fn = ajv.compile(retarget(schema, base) as object);
      compiled.set(key, fn);
    }
    return fn;
  }

  /** Literal paths win over templated ones (OpenAPI 3.1 §4.8.8). */
  function match(method: string, concretePath: string): OperationRef | undefined {
    const candidates = operations(doc).filter((op) => op.method === method.toLowerCase());
    const literal = candidates.find((op) => op.path === concretePath);
    if (literal) return literal;
    return candidates.find((op) => {
      const pattern = op.path.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+');
      return new RegExp(`^${pattern}$`).test(concretePath);
    });
  }

  function schemaProblems(): string[] {
    if (addError !== undefined) return [`components.schemas: ${addError}`];
    const found: string[] = [];
    // Compiling is where strict mode speaks (unknown keywords and formats, ignored constraints).
    for (const key of Object.keys(schemas)) {
      try {
        if (!ajv.getSchema(`${base}#/$defs/${key}`)) found.push(`components.schemas.${key}: does not compile`);
      } catch (error) {
        found.push(`components.schemas.${key}: ${(error as Error).message}`);
      }
    }
    // Every schema outside components (parameters, bodies, responses, headers) compiles in strict mode too.
    walk(doc, '#', (node, path) => {
      if (path.startsWith('#/components/schemas')) return;
      if (isObject(node.schema) && !path.endsWith('/properties')) {
        try {
          validator(node.schema);
        } catch (error) {
          found.push(`${path}/schema: ${(error as Error).message}`);
        }
      }
    });
    return found;
  }

  function problems(): string[] {
    const found: string[] = [];
    if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) found.push(`openapi must be 3.1.x, not ${JSON.stringify(doc.openapi)}`);
    if (!isObject(doc.info) || typeof doc.info.title !== 'string' || typeof doc.info.version !== 'string') found.push('info needs title and version');
    if (!isObject(doc.paths) || Object.keys(doc.paths).length === 0) found.push('paths is empty');

    walk(doc, '#', (node, path) => {
      if (typeof node.$ref === 'string' && resolvePointer(doc, node.$ref) === undefined) found.push(`${path}: $ref ${node.$ref} does not resolve`);
      // Ajv accepts OpenAPI 3.0's `nullable` for compatibility; 3.1 says `type: [T, "null"]`.
      if (typeof node.nullable === 'boolean') found.push(`${path}: nullable is OpenAPI 3.0; use type: [..., "null"]`);
    });

    const securitySchemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
    const operationIds = new Set<string>();
    for (const path of Object.keys(isObject(doc.paths) ? doc.paths : {})) {
      if (!path.startsWith('/')) found.push(`path ${path} must start with /`);
    }
    for (const { path, method, operation, pathItem } of operations(doc)) {
      const at = `${method.toUpperCase()} ${path}`;
      const id = operation.operationId;
      if (typeof id !== 'string') found.push(`${at}: no operationId`);
      else if (operationIds.has(id)) found.push(`${at}: operationId ${id} is used twice`);
      else operationIds.add(id);

      const params = [...(Array.isArray(pathItem.parameters) ? pathItem.parameters : []), ...(Array.isArray(operation.parameters) ? operation.parameters : [])]
        .map((p) => deref(doc, p))
        .filter((p): p is JsonObject => p !== undefined);
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const declared = params.filter((p) => p.in === 'path');
      for (const name of templated) {
        const param = declared.find((p) => p.name === name);
        if (!param) found.push(`${at}: path parameter {${name}} is not declared`);
        else if (param.required !== true) found.push(`${at}: path parameter {${name}} must be required`);
      }
      const nameOf = (param: JsonObject) => (typeof param.name === 'string' ? param.name : JSON.stringify(param.name));
      for (const param of declared) if (!templated.includes(nameOf(param))) found.push(`${at}: path parameter ${nameOf(param)} is not in the path`);
      for (const param of params) if (!isObject(param.schema) && !isObject(param.content)) found.push(`${at}: parameter ${nameOf(param)} has no schema`);

      const security = Array.isArray(operation.security) ? operation.security : Array.isArray(doc.security) ? doc.security : [];
      for (const requirement of security) {
        for (const scheme of Object.keys(isObject(requirement) ? requirement : {})) {
          if (!Object.hasOwn(securitySchemes, scheme)) found.push(`${at}: security scheme ${scheme} is not defined`);
        }
      }

      const body = deref(doc, operation.requestBody);
      if (operation.requestBody !== undefined && (!body || !isObject(body.content) || Object.keys(body.content).length === 0)) found.push(`${at}: requestBody without content`);

      const responses = operation.responses;
      if (!isObject(responses) || Object.keys(responses).length === 0) {
        found.push(`${at}: no responses`);
        continue;
      }
      for (const [status, value] of Object.entries(responses)) {
        if (!STATUS_KEY_RE.test(status)) found.push(`${at}: response key ${status} is not a status code`);
        const response = deref(doc, value);
        if (!response) continue;
        if (typeof response.description !== 'string') found.push(`${at} ${status}: response has no description`);
        if ((status === '204' || status === '304') && response.content !== undefined) found.push(`${at} ${status}: a ${status} has no content`);
        for (const [type, media] of Object.entries(isObject(response.content) ? response.content : {})) {
          if (!isObject(media) || !isObject(media.schema)) found.push(`${at} ${status} ${type}: no schema`);
        }
      }
    }
    return [...found, ...schemaProblems()];
  }

  function responseProblems(method: string, concretePath: string, response: OpenApiResponse): string[] {
    const at = `${method.toUpperCase()} ${concretePath} → ${response.status}`;
    const op = match(method, concretePath);
    if (!op) return [`${at}: the document has no operation ${method.toUpperCase()} for this path`];
    const declared = deref(doc, (op.operation.responses as JsonObject)[String(response.status)]);
    if (!declared) return [`${at}: status ${response.status} is not declared for ${method.toUpperCase()} ${op.path}`];
    const found: string[] = [];

    for (const [name, value] of Object.entries(isObject(declared.headers) ? declared.headers : {})) {
      const header = deref(doc, value);
      const actual = response.headers[name.toLowerCase()];
      if (actual === undefined) {
        if (header?.required === true) found.push(`${at}: required header ${name} is missing`);
        continue;
      }
      if (header && isObject(header.schema)) {
        const check = validator(header.schema);
        const text = Array.isArray(actual) ? actual.join(', ') : actual;
        if (!check(text)) found.push(`${at}: header ${name}: ${JSON.stringify(text)}: ${formatErrors(check.errors)}`);
      }
    }

    const content = isObject(declared.content) ? declared.content : undefined;
    const hasBody = response.text !== undefined && response.text !== '';
    if (!content) {
      if (hasBody) found.push(`${at}: the document declares no body, the answer has one`);
      return found;
    }
    const contentType = String(response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const media = content[contentType];
    if (!isObject(media)) return [...found, `${at}: content type ${contentType || '(none)'} is not declared (${Object.keys(content).join(', ')})`];
    if (!hasBody) return [...found, `${at}: the document declares a body, the answer has none`];
    let body: unknown;
    try {
      body = contentType.endsWith('json') ? JSON.parse(response.text!) : response.text;
    } catch {
      return [...found, `${at}: the body is not valid JSON`];
    }
    const check = validator(media.schema ?? {});
    if (!check(body)) found.push(`${at}: body does not match the schema: ${formatErrors(check.errors)}`);
    return found;
  }

  function requestProblems(method: string, concretePath: string, contentType: string, body: unknown): string[] {
    const at = `${method.toUpperCase()} ${concretePath} (${contentType} request)`;
    const op = match(method, concretePath);
    if (!op) return [`${at}: the document has no operation ${method.toUpperCase()} for this path`];
    const requestBody = deref(doc, op.operation.requestBody);
    const media = requestBody && isObject(requestBody.content) ? requestBody.content[contentType] : undefined;
    if (!isObject(media)) return [`${at}: no requestBody for ${contentType}`];
    const check = validator(media.schema ?? {});
    return check(body) ? [] : [`${at}: ${formatErrors(check.errors)}`];
  }

  function operationOf(method: string, concretePath: string): string | undefined {
    const op = match(method, concretePath);
    return op && `${op.method.toUpperCase()} ${op.path}`;
  }

  function componentProblems(name: string, value: unknown): string[] {
    if (!Object.hasOwn(schemas, name)) return [`no schema ${name} in components`];
    const check = validator({ $ref: `${SCHEMAS_PREFIX}${name}` });
    return check(value) ? [] : [`${name}: ${formatErrors(check.errors)}`];
  }

  return { doc, problems, responseProblems, requestProblems, componentProblems, operationOf };
}
