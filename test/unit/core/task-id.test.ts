import { describe, expect, it } from 'vitest';
import { filterUrlQuery, parseFilter, taskIdV1 } from '../../../lib/core/task-id.ts';

describe('taskIdV1 (golden vectors of Dragonfly pkg/idgen)', () => {
  it('hashes a bare URL', () => {
    expect(taskIdV1('https://example.com', {})).toBe(
      '100680ad546ce6a577f42f52df33b4cfdca756859e664b8d7de329b150d09ce9',
    );
    expect(taskIdV1('https://example.com')).toBe(
      '100680ad546ce6a577f42f52df33b4cfdca756859e664b8d7de329b150d09ce9',
    );
  });

  it('appends digest then range', () => {
    expect(taskIdV1('https://example.com', { range: 'foo', digest: 'bar' })).toBe(
      'aeee0e0a2a0c75130582641353c539aaf9011a0088b31347f7588e70e449a3e0',
    );
  });

  it('drops filtered query keys', () => {
    expect(taskIdV1('https://example.com?foo=foo&bar=bar', { tag: 'foo', filter: 'foo&bar' })).toBe(
      '2773851c628744fb7933003195db436ce397c1722920696c4274ff804d86920b',
    );
  });

  it('appends the tag', () => {
    expect(taskIdV1('https://example.com', { tag: 'foo' })).toBe(
      '2773851c628744fb7933003195db436ce397c1722920696c4274ff804d86920b',
    );
  });

  it('gives the same ID whatever the signature parameters', () => {
    const filter = 'Expires&Signature&X-Amz-Date&X-Amz-Signature';
    const a = taskIdV1('s3://b/k?X-Amz-Date=1&X-Amz-Signature=aa&v=1', { filter });
    const b = taskIdV1('s3://b/k?v=1&X-Amz-Signature=bb&X-Amz-Date=2', { filter });
    expect(a).toBe(b);
    expect(a).not.toBe(taskIdV1('s3://b/k?v=2', { filter }));
  });
});

describe('filterUrlQuery', () => {
  it('leaves the URL byte-identical without filters', () => {
    const url = 'https://h/p?b=2&a=1&a=0#frag';
    expect(filterUrlQuery(url, [])).toBe(url);
    expect(parseFilter('  ')).toEqual([]);
  });

  it('sorts the remaining keys and re-encodes like Go url.Values', () => {
    expect(filterUrlQuery('https://h/p?b=2&x=y&a=1&a=0&s=a b#f', ['x'])).toBe(
      'https://h/p?a=1&a=0&b=2&s=a+b#f',
    );
    expect(filterUrlQuery('https://h/p?k=%2F%7E!', ['none'])).toBe('https://h/p?k=%2F~%21');
  });

  it('drops the question mark when every key is filtered', () => {
    expect(filterUrlQuery('https://h/p?Expires=1&Signature=2', ['Expires', 'Signature'])).toBe(
      'https://h/p',
    );
  });
});
