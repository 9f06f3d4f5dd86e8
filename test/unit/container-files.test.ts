import { strict as assert } from 'node:assert'
import { hostnameFile, hostsFile, parseResolvConf, planResolvConf, resolvConf } from '../../lib'

const bad = (code = 'ERR_INVALID_ARG_VALUE') => ({ code })

describe('container files', () => {
  describe('hostsFile()', () => {
    it("writes Docker's localhost lines, then the container's address with its names", () => {
      assert.equal(
        hostsFile({ hostname: 'web', addresses: ['172.18.0.2'] }),
        [
          '127.0.0.1\tlocalhost',
          '::1\tlocalhost ip6-localhost ip6-loopback',
          'fe00::0\tip6-localnet',
          'ff00::0\tip6-mcastprefix',
          'ff02::1\tip6-allnodes',
          'ff02::2\tip6-allrouters',
          '172.18.0.2\tweb',
          '',
        ].join('\n'),
      )
    })

    it('writes the FQDN and bare name, aliases, extra hosts before the own lines, one line per address', () => {
      const text = hostsFile({
        hostname: 'web',
        domainname: 'example.com',
        addresses: ['172.18.0.2', 'FD00::2'],
        aliases: ['db', 'web', 'cache.internal'],
        extraHosts: [{ host: 'registry', ip: '10.0.0.5' }],
      })
      const lines = text.trimEnd().split('\n')
      assert.deepEqual(lines.slice(6), [
        '10.0.0.5\tregistry',
        '172.18.0.2\tweb.example.com web db cache.internal',
        'fd00::2\tweb.example.com web db cache.internal',
      ])
      assert.equal(
        hostsFile({ hostname: 'a.b.c', addresses: ['10.0.0.2'] })
          .trimEnd()
          .split('\n')
          .at(-1),
        '10.0.0.2\ta.b.c a',
      )
    })

    it('drops the IPv6 lines when asked, and validates every input', () => {
      assert.equal(hostsFile({ hostname: 'web', ipv6: false }), '127.0.0.1\tlocalhost\n')
      assert.throws(() => hostsFile({ hostname: 'bad_name' }), bad())
      assert.throws(() => hostsFile({ hostname: '-web' }), bad())
      assert.throws(() => hostsFile({ hostname: 'a'.repeat(65) }), bad())
      assert.throws(() => hostsFile({ hostname: 'web\n10.0.0.1 evil' }), bad())
      assert.throws(() => hostsFile({ hostname: 'web', addresses: ['10.0.0.256'] }), bad())
      assert.throws(() => hostsFile({ hostname: 'web', aliases: ['a b'] }), bad())
      assert.throws(() => hostsFile({ hostname: 'web', extraHosts: [{ host: 'x', ip: 'host-gateway' }] }), bad())
      assert.throws(() => hostsFile({ hostname: 'web', addresses: '10.0.0.1' as unknown as string[] }), bad('ERR_INVALID_ARG_TYPE'))
      assert.throws(() => hostsFile(undefined as never), bad('ERR_INVALID_ARG_TYPE'))
    })
  })

  it('hostnameFile() is the name and a newline, validated', () => {
    assert.equal(hostnameFile('web'), 'web\n')
    assert.throws(() => hostnameFile('we b'), bad())
    assert.throws(() => hostnameFile(''), bad())
  })

  describe('resolvConf()', () => {
    const host =
      '# from DHCP\nnameserver 127.0.0.53\nnameserver 10.0.0.1\nnameserver fd00::1\nsearch lan example.org\noptions edns0 trust-ad\nsortlist 10.0.0.0/255.0.0.0\n'

    it('parses a resolv.conf as the resolver does', () => {
      const p = parseResolvConf(host + 'domain corp\noptions rotate\nnameserver bogus\n')
      assert.deepEqual(p.nameservers, ['127.0.0.53', '10.0.0.1', 'fd00::1'])
      assert.deepEqual(p.search, ['corp'], 'the last search/domain line wins')
      assert.deepEqual(p.options, ['edns0', 'trust-ad', 'rotate'])
      assert.deepEqual(p.other, ['sortlist 10.0.0.0/255.0.0.0'])
      assert.deepEqual(p.invalid, ['bogus'])
    })

    it('default bridge: the host file minus loopback (and IPv6 without ipv6) servers', () => {
      const plan = planResolvConf({ host, comments: false })
      assert.equal(plan.content, 'nameserver 10.0.0.1\nsearch lan example.org\noptions edns0 trust-ad\nsortlist 10.0.0.0/255.0.0.0\n')
      assert.deepEqual(planResolvConf({ host, ipv6: true }).nameservers, ['10.0.0.1', 'fd00::1'])
    })

    it("falls back to Docker's servers when none is left", () => {
      const plan = planResolvConf({ host: 'nameserver 127.0.0.53\n' })
      assert.deepEqual(plan.nameservers, ['8.8.8.8', '8.8.4.4'])
      assert.equal(plan.usedFallback, true)
      assert.deepEqual(planResolvConf({ host: '', fallback: ['10.9.9.9'] }).nameservers, ['10.9.9.9'])
    })

    it('--dns, --dns-search, --dns-opt replace what the host gives', () => {
      const text = resolvConf({
        host,
        nameservers: ['10.1.1.1', '2001:DB8::53'],
        search: ['corp.example.'],
        options: ['ndots:2', 'timeout:1'],
        comments: false,
      })
      assert.equal(text, 'nameserver 10.1.1.1\nnameserver 2001:db8::53\nsearch corp.example\noptions ndots:2 timeout:1\nsortlist 10.0.0.0/255.0.0.0\n')
      assert.ok(!resolvConf({ host, search: ['.'], comments: false }).includes('search'), "'.' means no search domains")
    })

    it('user-defined networks: the internal resolver with ndots:0; the host servers become its upstreams', () => {
      const plan = planResolvConf({ host, resolver: true })
      assert.deepEqual(plan.nameservers, ['127.0.0.11'])
      assert.deepEqual(plan.upstreams, ['127.0.0.53', '10.0.0.1', 'fd00::1'], 'host loopback servers too: the resolver forwards from the host namespace')
      assert.deepEqual(plan.options, ['edns0', 'trust-ad', 'ndots:0'])
      assert.ok(plan.content.startsWith('nameserver 127.0.0.11\nsearch lan example.org\noptions edns0 trust-ad ndots:0\n'))
      assert.ok(plan.content.includes('# Upstream servers: [127.0.0.53 10.0.0.1 fd00::1]'))
      assert.deepEqual(planResolvConf({ resolver: true, options: ['ndots:3'] }).options, ['ndots:3'], 'an ndots given is kept')
      assert.deepEqual(planResolvConf({ resolver: '127.0.0.12', nameservers: ['10.5.5.5'] }).upstreams, ['10.5.5.5'])
    })

    it('validates every input', () => {
      assert.throws(() => resolvConf({ nameservers: ['10.0.0.300'] }), bad())
      assert.throws(() => resolvConf({ nameservers: ['8.8.8.8\nnameserver 1.1.1.1'] }), bad())
      assert.throws(() => resolvConf({ search: ['.example.com'] }), bad())
      assert.throws(() => resolvConf({ search: ['a..b'] }), bad())
      assert.throws(() => resolvConf({ search: ['x'.repeat(64) + '.com'] }), bad())
      assert.throws(() => resolvConf({ options: ['ndots:16'] }), bad())
      assert.throws(() => resolvConf({ options: ['ndots'] }), bad())
      assert.throws(() => resolvConf({ options: ['timeout:x'] }), bad())
      assert.throws(() => resolvConf({ options: ['edns0 rotate'] }), bad())
      assert.throws(() => resolvConf({ resolver: 'localhost' }), bad())
      assert.throws(() => resolvConf({ nameservers: '8.8.8.8' as unknown as string[] }), bad('ERR_INVALID_ARG_TYPE'))
      assert.equal(
        resolvConf({ options: ['edns0', 'single-request-reopen', 'attempts:2'], nameservers: ['10.0.0.1'], comments: false }),
        'nameserver 10.0.0.1\noptions edns0 single-request-reopen attempts:2\n',
      )
    })
  })
})
